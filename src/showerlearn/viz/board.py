"""The board: one self-contained HTML file comparing runs and sweeps (``showerlearn board``).

Python gathers every number into one JSON blob embedded in the page; the page draws its plots itself
with inline JavaScript and SVG (``board.js``, ``board_template.html``, both package data), so the file
opens offline in any browser without a server, a CDN or a network. The payload layout is documented
in docs/board.md.

What depends on the detector comes from the family of each entry's run (``BoardEntry.family``): the
labels, scales and best directions of its metrics (``Family.board_style()``, merged over the families
on the board by :func:`merged_style`) and the reference curves it overlays (``Family.reference_curves``,
gathered by :func:`reference_curves`).

Two families may give one name to different quantities (``energy_resolution``: an IACT's against the true
energy in TeV, a calorimeter's against the gamma energy in MeV). So on a board of several families every
name of a family's curve, scalar, axis and reference curve is keyed by its family (:func:`family_key`,
``iact/energy_resolution``): each family's metric has its plot, its label and its column, ranked only
against the same family's runs. A board of one family, the usual case, keeps the plain names.

Figures: the figures a run's family names (``BoardStyle.run_figures``, e.g. the calorimeter's energy
spectra) and every PNG file in its ``plots/explain/`` folder (``EXPLAIN_FOLDER``, e.g. Grad-CAM figures)
are embedded (base64) in the "Figures" section of that run (:func:`run_images`).
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from showerlearn.config import flatten_config
from showerlearn.family import GENERIC, BoardStyle, Family
from showerlearn.io.atomic import write_text_atomic
from showerlearn.metrics.aggregate import mean_roc
from showerlearn.metrics.limits import LIMIT_SIGNS
from showerlearn.viz.resolution import MIN_EVENTS_PER_BIN, CurveSeries, ReferenceCurve

#: Images found here inside a run directory are embedded in the board (Grad-CAM and other explanations).
EXPLAIN_FOLDER = Path("plots") / "explain"

#: Between a family and a name on a board of several families: ``iact/energy_resolution``.
FAMILY_SEPARATOR = "/"

#: Scalars the board adds to every run whatever its family (test events, training time): they mean the
#: same in every family, so they keep one column on a board of several families.
RUN_SCALARS = ("n_events", "train_seconds")


@dataclass(frozen=True)
class BoardRoc:
    """A ROC curve, with a band (``low``/``high`` true positive rates) for a mean over seeds, described by
    ``band`` (``"mean ± std over 3 seeds"``)."""

    fpr: np.ndarray
    tpr: np.ndarray
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    band: str = ""

    @classmethod
    def mean_of(
        cls, rocs: Sequence[BoardRoc], n_points: int = 101, band_label: Callable[[int], str] | None = None
    ) -> BoardRoc | None:
        """Vertical average of ROC curves: mean +- std (ddof=1) of the true positive rate at fixed rates;
        ``band_label(number of curves averaged)`` says what the band is.

        ``None`` when no curve has points (every run had a single class).
        """
        averaged = mean_roc([(roc.fpr, roc.tpr) for roc in rocs], n_points)
        if averaged is None:
            return None
        grid, stats = averaged
        n_curves = int(stats.n_runs.max())
        if n_curves < 2:
            return cls(grid, stats.mean)
        low, high = np.clip(stats.mean - stats.std, 0.0, 1.0), np.clip(stats.mean + stats.std, 0.0, 1.0)
        return cls(grid, stats.mean, low, high, band_label(n_curves) if band_label is not None else "")


@dataclass(frozen=True)
class BoardEntry:
    """One selectable line of the board: a run, or a sweep whose ``members`` are its runs.

    ``id`` must be unique in the board (it is what ``board.html#select=ID,...`` names). A sweep carries
    mean curves with +-std bands in ``curves``, the std of each scalar in ``scalar_std`` and in ``scalar_runs``
    how many runs its mean is over, of how many; its config is shown as the members' configs merged (values that differ
    between seeds are listed). ``limits``: the scalars that are one-sided limits, name -> ``"lower"`` or ``"upper"``
    (metrics.json's ``limits``: a rejection where no test background event was kept).
    ``family``: the family of the entry's run(s), whose board section reads its metrics; ``caption``: what
    its data is (data set, cuts, test events: ``metrics.json``'s ``caption``, a sweep's when its runs agree).
    """

    id: str
    label: str
    path: str
    curves: Mapping[str, CurveSeries] = field(default_factory=dict)
    scalars: Mapping[str, float | int | None] = field(default_factory=dict)
    scalar_std: Mapping[str, float | None] = field(default_factory=dict)
    scalar_runs: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    limits: Mapping[str, str] = field(default_factory=dict)
    roc: BoardRoc | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    status: str = ""
    members: Sequence[BoardEntry] = ()
    images: Sequence[Path] = ()
    family: Family = GENERIC
    caption: str = ""


def explain_images(run_path: str | Path) -> list[Path]:
    """The PNG files of a run's explanation folder (``plots/explain/*.png``), sorted by name."""
    folder = Path(run_path) / EXPLAIN_FOLDER
    return sorted(folder.glob("*.png")) if folder.is_dir() else []


def run_images(run_path: str | Path, family: Family) -> list[Path]:
    """What the board shows of a run besides its numbers: the figures its family names
    (``BoardStyle.run_figures``, those the run has) and then its explanations."""
    plots = Path(run_path) / EXPLAIN_FOLDER.parent
    figures = [plots / f"{name}.png" for name in family.board_style().run_figures]
    return [figure for figure in figures if figure.is_file()] + explain_images(run_path)


def merged_config(configs: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Flattened configs of a sweep's runs: one value where they agree, ``"a | b | c"`` where they differ."""
    flats = [flatten_config(config) for config in configs]
    merged = {}
    for key in sorted({key for flat in flats for key in flat}):
        values = list(dict.fromkeys(flat.get(key, "—") for flat in flats))
        merged[key] = values[0] if len(values) == 1 else " | ".join(values)
    return merged


def _floats(values: Any) -> list[float | None] | None:
    """Array -> JSON list with ``null`` for NaN/inf (JSON has no NaN); ``None`` stays ``None``."""
    if values is None:
        return None
    array = np.asarray(values, dtype=float).ravel()
    return [float(v) if np.isfinite(v) else None for v in array]


def is_number(value: Any) -> bool:
    """Whether ``value`` is a number a metric may be: Python's or numpy's int or float, NaN included; not a bool
    (JSON's true and false are no metric, though Python counts them as ints)."""
    return not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))


def _scalar(value: Any) -> float | int | None:
    """A number for JSON (numpy scalars unwrapped); anything else, NaN and infinities become ``None``
    (``showerlearn board`` refuses anything but numbers and null in a run's metrics.json before it gets here)."""
    if not is_number(value):
        return None
    value = value.item() if isinstance(value, np.generic) else value
    return value if np.isfinite(value) else None


def family_key(family: Family, name: str) -> str:
    """``name`` (a metric, curve, scalar or axis) of ``family`` on a board of several families:
    ``iact/energy_resolution``."""
    return f"{family.name}{FAMILY_SEPARATOR}{name}"


def _metric_key(family: Family | None, name: str) -> str:
    """A curve, metric or axis name as the board keys it: by ``family`` when given (a board of several
    families), else as it is."""
    return name if family is None else family_key(family, name)


def _scalar_key(family: Family | None, name: str) -> str:
    """A scalar's column: keyed like a metric, except the scalars every run has (``RUN_SCALARS``)."""
    return _metric_key(None if name in RUN_SCALARS else family, name)


def _entry_payload(entry: BoardEntry, by_family: bool) -> dict[str, Any]:
    """An entry (and its members) as page data; ``by_family``: its curves and scalars keyed by its family."""
    family = entry.family if by_family else None
    image_data = []
    for image in entry.images:
        try:
            data = base64.b64encode(Path(image).read_bytes()).decode("ascii")
        except OSError as error:
            raise OSError(f"{entry.path}: cannot read the image {image} for the board: {error}") from None
        image_data.append({"name": Path(image).name, "data": data})
    scalars = {name: _scalar(value) for name, value in entry.scalars.items()}
    return {
        "id": entry.id,
        "label": entry.label,
        "path": entry.path,
        "family": entry.family.name,
        "status": entry.status,
        "caption": entry.caption,
        "scalars": {_scalar_key(family, name): value for name, value in scalars.items()},
        "scalar_std": {_scalar_key(family, name): _scalar(value) for name, value in entry.scalar_std.items()},
        "scalar_runs": {_scalar_key(family, name): list(value) for name, value in entry.scalar_runs.items()},
        "limits": {_scalar_key(family, name): LIMIT_SIGNS[side] for name, side in entry.limits.items()},
        "auc": scalars.get("auc"),  # the ROC's legend: the entry's own AUC, whatever its column
        "curves": {
            _metric_key(family, name): {
                "edges": _floats(series.edges), "value": _floats(series.value), "low": _floats(series.low),
                "high": _floats(series.high), "band": series.band if series.low is not None else "",
                "n_events": _floats(series.n_events),
                "counted_none": None if series.counted_none is None else [bool(v) for v in series.counted_none]}
            for name, series in entry.curves.items()
        },
        "roc": None if entry.roc is None else {"fpr": _floats(entry.roc.fpr), "tpr": _floats(entry.roc.tpr),
                                               "low": _floats(entry.roc.low), "high": _floats(entry.roc.high),
                                               "band": entry.roc.band if entry.roc.low is not None else ""},
        "config": merged_config([m.config for m in entry.members]) if entry.members else flatten_config(entry.config),
        "members": [_entry_payload(member, by_family) for member in entry.members],
        "images": image_data,
    }


def entry_families(entries: Sequence[BoardEntry]) -> list[Family]:
    """The families of ``entries`` and their members, in order of first appearance."""
    return list(dict.fromkeys(e.family for entry in entries for e in (entry, *entry.members)))


def check_baseline_family(entries: Sequence[BoardEntry], baseline: BoardEntry) -> None:
    """Refuse a baseline of a detector family none of ``entries`` (members included) is of: it is drawn in every
    plot as what the runs are compared with, and another detector's metrics are no comparison (on a board of
    several families its curves would even sit in plots of their own, next to none of the runs)."""
    shown = entry_families(entries)
    if baseline.family in shown:
        return
    names = " and ".join(_named(family) for family in shown)
    kind = "family" if len(shown) == 1 else "families"
    raise ValueError(
        f"the baseline {baseline.label} is a run of the {_named(baseline.family)} family, the runs shown are of the "
        f"{names} {kind}: a baseline is compared with runs of its own detector family. Give a baseline of the "
        f"{' or '.join(family.name for family in shown)} family, or show {baseline.label} as one of the runs, not "
        "as the baseline"
    )


def _named(family: Family) -> str:
    """``iact (Cherenkov telescope images)``: a family's name and what it is, for messages."""
    return f"{family.name} ({family.title})"


def merged_style(families: Sequence[Family]) -> BoardStyle:
    """The board styles of ``families`` as one, in the families' order: one family's own style, or for
    several each family's with its names keyed by the family (:func:`family_key`), as the board keys their
    entries' curves and scalars, so that no family labels, scales or ranks another's metric of the same name.
    ``run_figures`` stay each family's own (:func:`run_images` reads them per run), not merged."""
    by_family = len(families) > 1
    styles = [_keyed_style(family.board_style(), family if by_family else None) for family in families]
    return BoardStyle(
        metric_style=_first_wins(style.metric_style for style in styles),
        axis_labels=_first_wins(style.axis_labels for style in styles),
        axis_counts=_first_wins(style.axis_counts for style in styles),
        scalar_direction=_first_wins(style.scalar_direction for style in styles),
        scalar_order=tuple(dict.fromkeys(name for style in styles for name in style.scalar_order)),
        scalar_units=_first_wins(style.scalar_units for style in styles),
        # several families name their positive classes differently: a name for all of them
        positive_class=styles[0].positive_class if len({s.positive_class for s in styles}) == 1 else "positive class",
    )


def _keyed_style(style: BoardStyle, family: Family | None) -> BoardStyle:
    """``style`` with its metric, axis and scalar names keyed by ``family`` (as they are without one)."""
    return BoardStyle(
        metric_style={_metric_key(family, name): value for name, value in style.metric_style.items()},
        axis_labels={_metric_key(family, name): value for name, value in style.axis_labels.items()},
        axis_counts={_metric_key(family, name): value for name, value in style.axis_counts.items()},
        scalar_direction={_scalar_key(family, name): value for name, value in style.scalar_direction.items()},
        scalar_order=tuple(_scalar_key(family, name) for name in style.scalar_order),
        scalar_units={_scalar_key(family, name): value for name, value in style.scalar_units.items()},
        positive_class=style.positive_class,
    )


def _first_wins(mappings: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One dict of several, in order of first appearance; a key keeps its first value."""
    merged: dict[str, Any] = {}
    for mapping in mappings:
        for key, value in mapping.items():
            merged.setdefault(key, value)
    return merged


def reference_curves(families: Sequence[Family], folder: Path) -> dict[str, dict[str, ReferenceCurve]]:
    """The reference curve sets every one of ``families`` reads from ``folder``, the first family's first;
    with several families, each curve under its metric keyed by the family that read it (:func:`family_key`),
    so that it overlays that family's plot only.

    Raises:
        ValueError: none of them has reference curves.
    """
    by_family = len(families) > 1
    found: dict[str, dict[str, ReferenceCurve]] = {}
    for family in families:
        keyed = family if by_family else None
        for name, curves in family.reference_curves(folder).items():
            found.setdefault(name, {}).update({_metric_key(keyed, metric): curve for metric, curve in curves.items()})
    if not found:
        names = ", ".join(family.name for family in families)
        raise ValueError(f"no family on the board ({names}) has reference curves to read from {folder}")
    return found


def _plots(shown: Sequence[Mapping[str, Any]], styles: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One plot per metric (curve name before ``_vs_``) present in some entry's page data (``shown``, members
    included), in the order of ``styles``; a metric keyed by its family is titled ``iact: energy resolution``."""
    present = {name.split("_vs_")[0] for entry in shown for name in entry["curves"]}
    metrics = [m for m in styles if m in present] + sorted(present - set(styles))
    return [
        {"metric": metric, "title": metric.replace(FAMILY_SEPARATOR, ": ", 1).replace("_", " "),
         "ylabel": styles.get(metric, {}).get("ylabel", metric),
         "logy": bool(styles.get(metric, {}).get("logy", False)), "hline": styles.get(metric, {}).get("hline"),
         "empty_limit": styles.get(metric, {}).get("empty_limit")}
        for metric in metrics
    ]


def board_payload(
    entries: Sequence[BoardEntry],
    *,
    baseline: BoardEntry | None = None,
    references: Mapping[str, Mapping[str, ReferenceCurve]] | None = None,
    style: BoardStyle = BoardStyle(),
    title: str = "showerlearn board",
) -> dict[str, Any]:
    """Everything the page shows, as JSON-ready data (layout in docs/board.md).

    ``references``: reference set name (``"North-LST"``...) -> metric -> curve, the first set shown
    first; ``style``: how the metrics read (:func:`merged_style` of the entries' families), whose metric
    styles also order the plots and whose units head the metrics table. Without them the page has no
    overlay and generic labels. Bins with fewer than ``MIN_EVENTS_PER_BIN`` events (``min_events_per_bin``,
    the threshold of the figures) are drawn apart, as in the evaluators' figures. When the entries (baseline
    and members included) are of several families, their curves and scalars are keyed by family
    (:func:`family_key`), as ``style`` and ``references`` are by :func:`merged_style` and :func:`reference_curves`.
    """
    if not entries:
        raise ValueError("the board needs at least one run or sweep")
    if baseline is not None:
        check_baseline_family(entries, baseline)
    everything = [e for entry in [*entries, *([baseline] if baseline else [])] for e in (entry, *entry.members)]
    ids = [e.id for e in everything]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"board entries must have unique ids, these repeat: {duplicates}")
    references = references or {}
    by_family = len(entry_families(everything)) > 1
    shown = [_entry_payload(entry, by_family) for entry in [*entries, *([baseline] if baseline else [])]]
    flat = [e for entry in shown for e in (entry, *entry["members"])]
    scalar_names = {name for e in flat for name in e["scalars"]}
    return {
        "title": title,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "entries": shown[: len(entries)],
        "baseline": shown[-1] if baseline else None,
        "requirements": {
            name: {metric: {"label": curve.label, "energy": _floats(curve.energy), "value": _floats(curve.value)}
                   for metric, curve in curves.items()}
            for name, curves in references.items()
        },
        "default_requirement": next(iter(references), "none"),
        "axis_labels": dict(style.axis_labels),
        "axis_counts": dict(style.axis_counts),
        "plots": _plots(flat, style.metric_style),
        "scalar_order": [n for n in style.scalar_order if n in scalar_names] + sorted(scalar_names - set(style.scalar_order)),
        "better": {name: direction for name, direction in style.scalar_direction.items() if name in scalar_names},
        "scalar_units": {name: unit for name, unit in style.scalar_units.items() if name in scalar_names and unit},
        "min_events_per_bin": MIN_EVENTS_PER_BIN,
    }


def render_board(payload: Mapping[str, Any]) -> str:
    """The HTML page of a payload: the template with the script and the data inlined."""
    assets = resources.files("showerlearn.viz")
    template = assets.joinpath("board_template.html").read_text(encoding="utf-8")
    script = assets.joinpath("board.js").read_text(encoding="utf-8")
    # "</" inside the JSON would close the <script> element early
    data = json.dumps(payload, allow_nan=False, separators=(",", ":")).replace("</", "<\\/")
    parts = {"__BOARD_TITLE__": html.escape(str(payload["title"])), "__BOARD_JS__": script, "__BOARD_DATA__": data}
    # one pass, so a marker-like text inside the data or the script is never substituted again
    return re.sub("|".join(parts), lambda match: parts[match.group(0)], template)


def write_board(
    path: str | Path,
    entries: Sequence[BoardEntry],
    *,
    baseline: BoardEntry | None = None,
    references: Mapping[str, Mapping[str, ReferenceCurve]] | None = None,
    style: BoardStyle = BoardStyle(),
    title: str = "showerlearn board",
) -> Path:
    """Write the self-contained board HTML file (atomically) and return its path (arguments: :func:`board_payload`)."""
    payload = board_payload(entries, baseline=baseline, references=references, style=style, title=title)
    write_text_atomic(path, render_board(payload))
    return Path(path)
