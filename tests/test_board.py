"""The HTML board: payload from run directories and sweeps, the CLI, and the page in a real headless browser."""

from __future__ import annotations

import base64
import json
import re
import shutil
import statistics
import subprocess
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import yaml

from board_cli import run_board, says
from showerlearn.calorimeter.family import BOARD_STYLE as CALORIMETER_STYLE
from showerlearn.calorimeter.family import FAMILY as CALORIMETER
from showerlearn.cli.board import collect_board, collect_entries
from showerlearn.config import flatten_config
from showerlearn.engine.run_dir import RunDir
from showerlearn.engine.sweep import SWEEP_FILE
from showerlearn.evaluation.classification import evaluate_classification
from showerlearn.evaluation.curves import curve_record
from showerlearn.family import GENERIC, BoardStyle, Family, family_of_component
from showerlearn.iact.evaluation.evaluator import evaluate_iact, iact_metrics
from showerlearn.iact.family import BOARD_STYLE, FAMILY
from showerlearn.io.atomic import write_json_atomic
from showerlearn.io.tables import write_columns
from showerlearn.viz.board import (
    BoardEntry,
    BoardRoc,
    board_payload,
    entry_families,
    merged_config,
    merged_style,
    reference_curves,
    render_board,
)
from showerlearn.viz.resolution import MIN_EVENTS_PER_BIN, ReferenceCurve

N_EVENTS = 1500
#: the data captions of the fixture's runs (the single run's is completed by its evaluator)
SWEEP_CAPTION, SINGLE_CAPTION, BASELINE_CAPTION = (
    "synthetic events; cuts: none", "synthetic events", "synthetic events; cuts: intensity >= 50 p.e.")
# a 1x1 PNG: the explanation hook embeds whatever PNG files it finds
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def _predictions(seed: int, quality: float) -> dict[str, np.ndarray]:
    """Synthetic IACT predictions whose resolution and separation improve with ``quality``."""
    rng = np.random.default_rng(seed)
    true_energy = 10 ** rng.uniform(-1.5, 1.8, N_EVENTS)
    primary = np.where(rng.random(N_EVENTS) < 0.5, 0, 101)
    gamma = primary == 0
    true_alt, true_az = np.full(N_EVENTS, 70.0), np.full(N_EVENTS, 180.0)
    spread = 0.3 / quality / np.sqrt(true_energy)
    score = np.clip(rng.normal(np.where(gamma, 0.5 + 0.2 * quality, 0.35), 0.18), 0, 1)
    return {
        "obs_id": np.ones(N_EVENTS, dtype=int), "event_id": np.arange(N_EVENTS), "tel_id": np.ones(N_EVENTS, dtype=int),
        "true_shower_primary_id": primary, "true_energy": true_energy,
        "reco_energy": true_energy * np.exp(rng.normal(0.02, 0.25 / quality, N_EVENTS)),
        "true_alt": true_alt, "true_az": true_az,
        "reco_alt": true_alt + rng.normal(0, spread),
        "reco_az": true_az + rng.normal(0, spread) / np.cos(np.radians(true_alt)),
        "gammaness": score,
    }


def _make_run(
    path: Path, seed: int, quality: float, depth: int, *, keep_roc: bool = True, figures: bool = False,
    extra: dict | None = None, caption: str = "",
) -> Path:
    """A run directory with the real evaluator's metrics.json on synthetic predictions.

    ``figures``: run the whole evaluator (seconds of matplotlib); else only its metrics part, same layout.
    ``extra``: config sections only this run has; ``caption``: the data set (the evaluator's caption).
    """
    predictions = _predictions(seed, quality)
    write_columns(path / "predictions.h5", predictions)
    if figures:
        metrics = evaluate_iact(predictions, path / "plots", n_bootstrap=10, seed=seed, caption=caption)
    else:
        metrics = {"evaluator": "iact", "schema": 1, **iact_metrics(predictions, n_bootstrap=10, seed=seed)}
        if caption:
            metrics["caption"] = caption
    metrics = {"n_events": N_EVENTS, **metrics}
    if not keep_roc:
        metrics.pop("roc")
    write_json_atomic(path / "metrics.json", metrics)
    config = {"name": "small", "seed": seed, "model": {"name": "gamma_physnet", "params": {"depth": depth}},
              "trainer": {"max_epochs": 2, "precision": "32"}, "estimator": None, **(extra or {})}
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    write_json_atomic(path / "run.json", {"state": "completed", "train_seconds": 10.0 + seed})
    return path


def _make_calorimeter_run(path: Path, resolution: float) -> Path:
    """A calorimeter run directory (its family: the evaluator its metrics.json names) whose ``energy_resolution``
    curve and scalar share their names with the IACT runs' but are another quantity, against the gamma energy
    in MeV; its resolution is better than any IACT run's, so a column shared with them would rank it first."""
    edges = np.array([0.3, 1.0, 3.0, 10.0])
    curve = curve_record(edges, resolution * np.array([1.5, 1.0, 0.8]), np.full(3, 200), x="gamma_energy",
                         x_unit="MeV", unit="")
    write_json_atomic(path / "metrics.json", {
        "evaluator": "calorimeter", "n_events": 600, "curves": {"energy_resolution_vs_gamma_energy": curve},
        "scalars": {"energy_resolution": resolution, "photopeak_efficiency": 0.8}})
    (path / "config.yaml").write_text(yaml.safe_dump({"name": "califa", "seed": 0, "model": {"name": "hit_pair_mlp"}}))
    write_json_atomic(path / "run.json", {"state": "completed", "train_seconds": 3.0})
    (path / "plots").mkdir()
    for name in ("energy_spectra", "photopeak_efficiency_vs_gamma_energy"):  # the first, the family's board figure
        (path / "plots" / f"{name}.png").write_bytes(PNG)
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 3-seed sweep, a single run (ROC only in its predictions, with explanation images) and a baseline."""
    root = tmp_path_factory.mktemp("board")
    sweep = root / "small" / "sweep-1"
    for seed in (0, 1, 2):
        _make_run(sweep / f"seed{seed}", seed, quality=2.0, depth=3, caption=SWEEP_CAPTION)
    write_json_atomic(sweep / SWEEP_FILE, {"name": "small", "seeds": [0, 1, 2], "runs": ["seed0", "seed1", "seed2"]})
    single = _make_run(root / "small" / "deep_seed5", 5, quality=3.0, depth=5, keep_roc=False, figures=True,
                       caption=SINGLE_CAPTION)
    (single / "plots" / "explain").mkdir(parents=True)
    (single / "plots" / "explain" / "gradcam_gamma.png").write_bytes(PNG)
    estimator = {"estimator": {"name": "hillas_rf", "params": {"picture_thresh": 6.0, "n_jobs": 1}}}
    baseline = _make_run(root / "hillas" / "rf_seed0", 9, quality=1.0, depth=0, extra=estimator,
                         caption=BASELINE_CAPTION)
    return {"sweep": sweep, "single": single, "baseline": baseline}


def _payload_of(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="board-data">(.*?)</script>', html, re.S)
    assert match, "the board data block is missing"
    return json.loads(match.group(1))


def test_flatten_and_merge_config() -> None:
    nested = {"model": {"name": "x", "params": {"depth": 3, "widths": [8, 16]}}, "seed": 1, "empty": {}}
    assert flatten_config(nested) == {"model.name": "x", "model.params.depth": "3", "model.params.widths": "[8, 16]",
                                      "seed": "1", "empty": "{}"}
    configs = [{"seed": 1, "a": {"b": 2}}, {"seed": 2, "a": {"b": 2}}, {"seed": 3, "a": {"b": 2}, "c": True}]
    merged = merged_config(configs)
    assert merged == {"seed": "1 | 2 | 3", "a.b": "2", "c": "\u2014 | true"}


def test_mean_roc_matches_pointwise_mean_and_std() -> None:
    rng = np.random.default_rng(1)
    rocs = []
    for _ in range(4):
        fpr = np.concatenate([[0.0], np.sort(rng.random(30)), [1.0]])
        rocs.append(BoardRoc(fpr, np.sqrt(fpr) ** rng.uniform(0.5, 1.5)))
    mean = BoardRoc.mean_of(rocs, n_points=11)
    for k, x in enumerate(mean.fpr):
        # naive reference: linear interpolation by hand at each grid point
        values = []
        for roc in rocs:
            j = int(np.searchsorted(roc.fpr, x, side="right")) - 1
            j = min(j, len(roc.fpr) - 2)
            t = (x - roc.fpr[j]) / (roc.fpr[j + 1] - roc.fpr[j])
            values.append(roc.tpr[j] + t * (roc.tpr[j + 1] - roc.tpr[j]))
        assert mean.tpr[k] == pytest.approx(statistics.fmean(values))
        std = statistics.stdev(values)
        assert mean.low[k] == pytest.approx(max(statistics.fmean(values) - std, 0.0))
        assert mean.high[k] == pytest.approx(min(statistics.fmean(values) + std, 1.0))
    assert BoardRoc.mean_of([BoardRoc(np.empty(0), np.empty(0))]) is None


def test_payload_of_sweep_and_runs(runs: dict[str, Path]) -> None:
    entries = collect_entries([runs["sweep"], runs["single"]])
    payload = board_payload(entries)
    sweep, single = payload["entries"]
    assert sweep["id"] == "small/sweep-1" and [m["id"] for m in sweep["members"]] == [
        "small/sweep-1/seed0", "small/sweep-1/seed1", "small/sweep-1/seed2"]
    # the sweep's curve is the mean over its runs' metrics.json values, its band +- the sample std
    member_values = np.array([
        [np.nan if v is None else v for v in json.loads((runs["sweep"] / f"seed{s}" / "metrics.json").read_text())
         ["curves"]["angular_resolution_vs_true_energy"]["value"]] for s in (0, 1, 2)])
    curve = sweep["curves"]["angular_resolution_vs_true_energy"]
    filled = np.all(np.isfinite(member_values), axis=0)
    assert filled.sum() >= 5
    mean = np.array([np.nan if v is None else v for v in curve["value"]])
    high = np.array([np.nan if v is None else v for v in curve["high"]])
    np.testing.assert_allclose(mean[filled], member_values[:, filled].mean(axis=0))
    np.testing.assert_allclose(high[filled] - mean[filled], member_values[:, filled].std(axis=0, ddof=1))
    aucs = [json.loads((runs["sweep"] / f"seed{s}" / "metrics.json").read_text())["scalars"]["auc"] for s in (0, 1, 2)]
    assert sweep["scalars"]["auc"] == pytest.approx(statistics.fmean(aucs))
    assert sweep["scalar_std"]["auc"] == pytest.approx(statistics.stdev(aucs))
    assert sweep["scalars"]["train_seconds"] == 11.0 and sweep["scalar_std"]["train_seconds"] == 1.0
    assert sweep["status"] == "completed" and sweep["scalars"]["n_events"] == N_EVENTS
    assert sweep["config"]["seed"] == "0 | 1 | 2" and sweep["config"]["model.params.depth"] == "3"
    # the single run's metrics.json has no ROC: it comes from predictions.h5, and its area is the AUC
    assert single["roc"] is not None and single["roc"]["fpr"][0] == 0.0 and single["roc"]["tpr"][-1] == 1.0
    assert np.trapezoid(single["roc"]["tpr"], single["roc"]["fpr"]) == pytest.approx(single["scalars"]["auc"], abs=5e-3)
    assert base64.b64decode(single["images"][0]["data"]) == PNG
    # without figure styles the plots come alphabetically
    assert [p["metric"] for p in payload["plots"]] == ["angular_resolution", "auc", "energy_bias", "energy_resolution"]


def test_payload_says_what_bands_counts_and_data_are(runs: dict[str, Path]) -> None:
    """What the figures say beside their curves: the band, the events per bin (with the figures' threshold
    for a bin drawn apart), the data set and cuts, the units of the scalars."""
    entries = collect_entries([runs["sweep"], runs["single"]])
    payload = board_payload(entries, style=merged_style(entry_families(entries)))
    sweep, single = payload["entries"]
    assert payload["min_events_per_bin"] == MIN_EVENTS_PER_BIN  # the figures' threshold, not a copy
    assert payload["scalar_units"] == {"angular_resolution_deg": "deg"}
    # a run: its bootstrap interval and its counts, as metrics.json has them
    records = json.loads((runs["single"] / "metrics.json").read_text())["curves"]
    curve = single["curves"]["angular_resolution_vs_reco_energy"]
    assert curve["band"] == records["angular_resolution_vs_reco_energy"]["band"] == "95 % bootstrap interval"
    assert curve["n_events"] == records["angular_resolution_vs_reco_energy"]["n_events"]
    assert 0 < curve["n_events"][-1] < MIN_EVENTS_PER_BIN, "the fixture has a sparse bin to draw apart"
    assert single["curves"]["auc_vs_reco_energy"]["band"] == ""  # no interval: nothing to describe
    # a sweep: mean +- std over its seeds (curves and ROC), the seeds' mean counts
    assert sweep["curves"]["angular_resolution_vs_true_energy"]["band"] == "mean ± std over 3 seeds"
    assert sweep["roc"]["band"] == "mean ± std over 3 seeds" and single["roc"]["band"] == ""
    counts = [json.loads((runs["sweep"] / f"seed{s}" / "metrics.json").read_text())["curves"]
              ["angular_resolution_vs_true_energy"]["n_events"] for s in (0, 1, 2)]
    np.testing.assert_allclose(sweep["curves"]["angular_resolution_vs_true_energy"]["n_events"],
                               np.rint(np.mean(counts, axis=0)))  # the aggregate's rounded mean
    # the data: each run's caption, a sweep's when its runs agree
    assert sweep["caption"] == SWEEP_CAPTION and all(m["caption"] == SWEEP_CAPTION for m in sweep["members"])
    assert single["caption"].startswith(SINGLE_CAPTION + "; test split: 1500 events")


def test_unfinished_runs_are_listed_without_numbers(runs: dict[str, Path], tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    shutil.copytree(runs["sweep"], sweep)
    (sweep / "seed2" / "metrics.json").unlink()
    write_json_atomic(sweep / "seed2" / "run.json", {"state": "failed", "error": "RuntimeError: out of memory"})
    (entry,) = collect_entries([sweep])
    assert entry.status == "completed, failed" and entry.members[2].status == "failed"
    assert not entry.members[2].curves and entry.members[2].roc is None
    # the sweep aggregates the runs that have metrics
    aucs = [json.loads((sweep / f"seed{s}" / "metrics.json").read_text())["scalars"]["auc"] for s in (0, 1)]
    assert entry.scalars["auc"] == pytest.approx(statistics.fmean(aucs))
    assert entry.scalar_std["auc"] == pytest.approx(statistics.stdev(aucs))
    # a run stopped by Ctrl-C too
    write_json_atomic(sweep / "seed2" / "run.json", {"state": "interrupted", "error": "KeyboardInterrupt: "})
    (entry,) = collect_entries([sweep])
    assert entry.members[2].status == "interrupted"
    # a seed that failed (or runs) again after an earlier completion keeps its old metrics.json: left out of the
    # sweep's numbers, as `evaluate` leaves it out of aggregate.json
    shutil.copyfile(sweep / "seed1" / "metrics.json", sweep / "seed2" / "metrics.json")
    for state in ("failed", "running"):
        write_json_atomic(sweep / "seed2" / "run.json", {"state": state})
        (entry,) = collect_entries([sweep])
        assert entry.scalars["auc"] == pytest.approx(statistics.fmean(aucs))
        assert entry.scalar_std["auc"] == pytest.approx(statistics.stdev(aucs))


def test_page_is_self_contained(runs: dict[str, Path]) -> None:
    page = render_board(board_payload(collect_entries([runs["single"]]), title="a </script> title"))
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page), "the page must not load anything remote"
    assert "<link" not in page and "@import" not in page
    assert "a &lt;/script&gt; title" in page
    assert _payload_of(page)["entries"][0]["label"] == "small/deep_seed5"


def test_duplicate_ids_rejected() -> None:
    with pytest.raises(ValueError, match="unique ids"):
        board_payload([BoardEntry("a", "a", "x"), BoardEntry("a", "a", "y")])


class _OtherFamily(Family):
    """A throw-away family with its own metric, axis and reference set."""

    name = "other"

    def board_style(self) -> BoardStyle:
        return BoardStyle(metric_style={"purity": {"ylabel": "purity"}, "auc": {"ylabel": "area under the ROC"}},
                          axis_labels={"depth": "depth [cm]"}, scalar_direction={"purity": "higher"},
                          scalar_order=("purity", "auc"))

    def reference_curves(self, folder: Path) -> dict[str, dict[str, ReferenceCurve]]:
        return {"design": {"purity": ReferenceCurve("design goal", np.array([1.0, 2.0]), np.array([0.9, 0.9]))}}


def test_board_sections_come_from_the_families_of_the_entries(runs: dict[str, Path], tmp_path: Path) -> None:
    assert family_of_component(evaluate_iact) is FAMILY and family_of_component(evaluate_classification) is GENERIC
    # the fixture's configs name no data: their family is the one of the evaluator that wrote metrics.json
    (iact,) = collect_entries([runs["single"]])
    other = BoardEntry("o", "o", "o", family=_OtherFamily())
    assert entry_families([iact, other]) == [FAMILY, other.family]
    assert merged_style([FAMILY]) == BOARD_STYLE  # one family: its own style, plain names
    # several: each family's word for its own names, keyed by the family (both describe "auc")
    style = merged_style([FAMILY, other.family])
    iact_plots = [f"iact/{name}" for name in BOARD_STYLE.metric_style]
    assert list(style.metric_style) == [*iact_plots, "other/purity", "other/auc"]
    assert style.metric_style["iact/auc"] == BOARD_STYLE.metric_style["auc"]
    assert style.metric_style["other/auc"] == {"ylabel": "area under the ROC"}
    assert style.axis_labels == {**{f"iact/{axis}": label for axis, label in BOARD_STYLE.axis_labels.items()},
                                 "other/depth": "depth [cm]"}
    assert style.scalar_order == (*(f"iact/{name}" for name in BOARD_STYLE.scalar_order), "other/purity", "other/auc")
    assert style.scalar_units == {"iact/angular_resolution_deg": "deg"}
    references = reference_curves([GENERIC, other.family], tmp_path)  # the generic family has none
    assert list(references) == ["design"] and list(references["design"]) == ["other/purity"]
    assert list(reference_curves([other.family], tmp_path)["design"]) == ["purity"]
    payload = board_payload([iact, other], references=references, style=style)
    assert [e["family"] for e in payload["entries"]] == ["iact", "other"]
    assert payload["default_requirement"] == "design" and payload["axis_labels"]["other/depth"] == "depth [cm]"


def test_a_board_of_two_families_keys_plots_and_scalars_by_family(runs: dict[str, Path], tmp_path: Path) -> None:
    """Both families have an ``energy_resolution`` curve and scalar: each gets its plot, labelled by its family,
    and its column, ranked among its family's runs only; a board of one family keeps the plain names."""
    calorimeter = _make_calorimeter_run(tmp_path / "califa" / "run", resolution=0.04)
    entries = collect_entries([runs["single"], calorimeter])
    assert entry_families(entries) == [FAMILY, CALORIMETER]
    payload = board_payload(entries, style=merged_style(entry_families(entries)))
    iact, califa = payload["entries"]
    plots = {plot["metric"]: plot for plot in payload["plots"]}
    for family, style in (("iact", BOARD_STYLE), ("calorimeter", CALORIMETER_STYLE)):
        plot = plots[f"{family}/energy_resolution"]
        assert plot["ylabel"] == style.metric_style["energy_resolution"]["ylabel"]
        assert plot["title"] == f"{family}: energy resolution"
    assert "energy_resolution" not in plots
    # each entry's curves and scalars under its family's names, the values of its metrics.json
    recorded = json.loads((calorimeter / "metrics.json").read_text())
    assert califa["curves"]["calorimeter/energy_resolution_vs_gamma_energy"]["value"] == pytest.approx(
        recorded["curves"]["energy_resolution_vs_gamma_energy"]["value"])
    assert set(califa["curves"]) == {"calorimeter/energy_resolution_vs_gamma_energy"}
    assert all(name.startswith("iact/") for name in iact["curves"])
    assert califa["scalars"]["calorimeter/energy_resolution"] == 0.04
    assert iact["scalars"]["iact/energy_resolution"] > 0.04
    assert "iact/energy_resolution" not in califa["scalars"] and "calorimeter/energy_resolution" not in iact["scalars"]
    assert payload["better"]["calorimeter/energy_resolution"] == payload["better"]["iact/energy_resolution"] == "lower"
    order = payload["scalar_order"]
    assert order.index("iact/energy_resolution") < order.index("calorimeter/energy_resolution")
    # what every run has keeps one column; the ROC legend still reads the entry's own AUC
    assert {"n_events", "train_seconds"} <= califa["scalars"].keys() & iact["scalars"].keys()
    assert iact["auc"] == iact["scalars"]["iact/auc"] and califa["auc"] is None
    assert payload["axis_labels"]["calorimeter/gamma_energy"] == CALORIMETER_STYLE.axis_labels["gamma_energy"]
    # the figures each family shows with its runs (the calorimeter's spectra), then the explanations
    assert [image["name"] for image in califa["images"]] == ["energy_spectra.png"]
    assert [image["name"] for image in iact["images"]] == ["gradcam_gamma.png"]
    # a board of one family is what it was
    alone = board_payload([entries[1]], style=merged_style([CALORIMETER]))
    assert [plot["metric"] for plot in alone["plots"]] == ["energy_resolution"]
    assert alone["plots"][0]["title"] == "energy resolution" and alone["scalar_order"][:2] == [
        "photopeak_efficiency", "energy_resolution"]
    with pytest.raises(ValueError, match="no family on the board"):
        reference_curves([GENERIC], tmp_path)


def test_a_baseline_with_the_path_tail_of_an_entry_gets_a_label_and_ids_of_its_own(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    first, second = (shutil.copytree(runs["sweep"], tmp_path / side / "exp" / "sweep-1") for side in ("x", "y"))
    (entry,), baseline = collect_board([Path(first)], Path(second))
    assert entry.label == "x/exp/sweep-1" and baseline.label == "y/exp/sweep-1"
    payload = board_payload([entry], baseline=baseline)  # refuses repeated ids, members' included
    assert {m["id"] for m in payload["baseline"]["members"]}.isdisjoint(m["id"] for m in payload["entries"][0]["members"])


def test_cli_writes_board_with_baseline_and_requirements(
    runs: dict[str, Path], shared_data: Path, tmp_path: Path
) -> None:
    output = tmp_path / "out" / "board.html"
    code, out = run_board(str(runs["sweep"]), str(runs["single"]), str(runs["baseline"]), str(runs["single"] / "."),
                     "--output", str(output), "--baseline", str(runs["baseline"]),
                     "--requirements", str(shared_data / "iact/irf/cta_requirements"))
    assert code == 0, out
    payload = _payload_of(output.read_text(encoding="utf-8"))
    # each run once; the baseline given among the runs too is shown as the baseline only
    assert [e["id"] for e in payload["entries"]] == ["small/sweep-1", "small/deep_seed5"]
    # the page says "baseline" once (its checkbox, its "(baseline)" tag): the label is the run's path only
    assert payload["baseline"]["id"] == "baseline: hillas/rf_seed0" and payload["baseline"]["label"] == "hillas/rf_seed0"
    assert payload["default_requirement"] == "North-LST"
    # the evaluators' figure styles order the plots and label their axes
    assert [p["metric"] for p in payload["plots"]] == ["angular_resolution", "energy_resolution", "energy_bias", "auc"]
    assert payload["plots"][0]["logy"] and payload["plots"][2]["hline"] == 0.0
    assert {"angular_resolution", "energy_resolution"} <= payload["requirements"]["North-LST"].keys()
    requirement = np.loadtxt(shared_data / "iact/irf/cta_requirements/cta_requirements_North-50h-LST-AngRes.dat")
    np.testing.assert_allclose(payload["requirements"]["North-LST"]["angular_resolution"]["value"], requirement[:, 1])
    assert list(tmp_path.joinpath("out").iterdir()) == [output], "only the board, no temporary file left"


def test_cli_errors_name_the_problem(runs: dict[str, Path], tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(runs["single"], broken)
    (broken / "metrics.json").unlink()
    code, out = run_board(str(broken), "--output", str(tmp_path / "b.html"))
    assert code == 1 and says(out, "no metrics.json")
    (broken / "metrics.json").write_text('{"curves": ')
    code, out = run_board(str(broken), "--output", str(tmp_path / "b.html"))
    assert code == 1 and says(out, "metrics.json: not valid JSON")
    (broken / "metrics.json").write_text("[]")
    code, out = run_board(str(broken), "--output", str(tmp_path / "b.html"))
    assert code == 1 and says(out, "metrics.json: expected a JSON object, got list")
    status = (broken / "run.json").read_text()
    (broken / "run.json").write_text(status[: len(status) // 2])  # a copy cut short: board and evaluate name it
    code, out = run_board(str(broken), "--output", str(tmp_path / "b.html"))
    assert code == 1 and says(out, "run.json: not valid JSON")
    with pytest.raises(ValueError, match=r"run.json: not valid JSON .*the file is damaged"):
        RunDir(broken).status()  # what evaluate, sweep and every other command read it with
    (broken / "run.json").write_text(status)
    (broken / "metrics.json").write_text(json.dumps({"curves": {"energy_bias_vs_true_energy": {"value": [0.1]}}}))
    code, out = run_board(str(broken), "--output", str(tmp_path / "b.html"))
    assert code == 1 and says(out, "curve 'energy_bias_vs_true_energy' is not a curve record")
    code, out = run_board(str(tmp_path / "nowhere"), "--output", str(tmp_path / "b.html"))
    assert code == 1 and says(out, "neither a run directory nor a sweep folder")
    code, out = run_board(str(runs["single"]), "--output", str(tmp_path / "b.html"), "--requirements", str(tmp_path))
    assert code == 1 and says(out, "no cta_requirements")
    assert not (tmp_path / "b.html").exists()


# ---- the page in a real browser ------------------------------------------------------------------

class _Elements(HTMLParser):
    """Every start tag of a document as (tag, attributes); ``html``: the document."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.html = html
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
        return [a for t, a in self.elements if t == tag and all(a.get(k) == v for k, v in wanted.items())]


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    pytest.skip("no chromium browser found: install Debian's `chromium` (apt-get install chromium) "
                "to test the board page")


def _render_in_browser(browser: str, page: Path, fragment: str, profile: Path) -> _Elements:
    """The DOM after the page's scripts ran, from headless chromium."""
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", "--dump-dom", page.as_uri() + fragment]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    dom = _Elements(result.stdout)
    body = dom.find("body")[0]
    assert "data-error" not in body, f"script error in the page: {body['data-error']}"
    assert body.get("data-ready") == "1", "the page script did not finish"
    return dom


@pytest.mark.slow
def test_page_in_headless_browser(chromium: str, runs: dict[str, Path], shared_data: Path, tmp_path: Path) -> None:
    page = tmp_path / "board.html"
    code, out = run_board(str(runs["sweep"]), str(runs["single"]), "--output", str(page),
                     "--baseline", str(runs["baseline"]),
                     "--requirements", str(shared_data / "iact/irf/cta_requirements"))
    assert code == 0, out
    sweep, single, base = "small/sweep-1", "small/deep_seed5", "baseline: hillas/rf_seed0"
    seeds = [f"{sweep}/seed{s}" for s in (0, 1, 2)]

    dom = _render_in_browser(chromium, page, "", tmp_path / "profile")
    # every run is listed, the sweep with its three runs
    assert {a["data-entry"] for a in dom.find("input", type="checkbox") if "data-entry" in a} == {sweep, single, *seeds}
    plots = {a["data-plot"] for a in dom.find("svg", **{"class": "plot"})}
    assert {"angular_resolution", "energy_resolution", "energy_bias", "auc", "roc"} <= plots
    drawn = [a["data-entry"] for a in dom.find("g", **{"class": "series"})]
    # by default the top-level entries and the baseline are drawn in every plot
    assert drawn.count(sweep) == drawn.count(single) == drawn.count(base) == len(plots)
    assert not set(seeds) & set(drawn)
    assert len(dom.find("g", **{"class": "requirement"})) == 2  # angular and energy resolution of North-LST
    assert {a["data-entry"] for a in dom.find("tr") if "data-entry" in a} == {sweep, single, base}
    config_keys = {a["data-key"] for a in dom.find("tr") if "data-key" in a}
    assert {"model.params.depth", "seed"} <= config_keys and "trainer.max_epochs" not in config_keys
    # keys only the baseline sets (null or absent elsewhere): one row for their section, "not set" elsewhere
    assert "estimator" in config_keys and not {"estimator.name", "estimator.params.n_jobs"} & config_keys
    assert len(dom.find("td", **{"class": "unset"})) == 2  # the sweep's and the single run's estimator cells
    assert dom.find("img", alt="gradcam_gamma.png")
    # the page says what it shows: units in the metrics headers, what the bands are, the data of each entry
    assert re.search(r'<th data-key="angular_resolution_deg"[^>]*>angular_resolution_deg \[deg\]<', dom.html)
    assert re.search(r'<th data-key="auc"[^>]*>auc<', dom.html), "a dimensionless scalar has no unit"
    assert len(dom.find("p", **{"class": "plot-note band-note"})) == len(plots)
    assert ("bands: small/sweep-1: mean ± std over 3 seeds; small/deep_seed5: 95 % bootstrap interval; "
            "hillas/rf_seed0 (baseline): 95 % bootstrap interval") in dom.html
    assert ">band: mean ± std over 3 seeds<" in dom.html  # AUC and ROC: only the sweep's has a band
    assert dom.find("p", id="runs-caption", **{"class": "caption"})[0].get("hidden") is not None, "the data differ"
    assert {a["data-entry"] for a in dom.find("div", **{"class": "caption"})} == {sweep, single, base}
    assert f">{escape(SWEEP_CAPTION)}<" in dom.html and f">{escape(BASELINE_CAPTION)}<" in dom.html

    # a selection (made through the page's own checkbox handlers) changes the plots and tables
    dom = _render_in_browser(chromium, page, f"#select={seeds[0]},{seeds[2]}", tmp_path / "profile")
    drawn = [a["data-entry"] for a in dom.find("g", **{"class": "series"})]
    assert set(drawn) == {seeds[0], seeds[2], base}
    assert drawn.count(seeds[0]) == len(plots)
    assert dom.find("body")[0]["data-selected"] == f"{seeds[0]},{seeds[2]}"
    config_rows = {a["data-key"] for a in dom.find("tr") if "data-key" in a}
    assert "seed" in config_rows and "model.params.depth" in config_rows  # the baseline's depth differs
    assert not dom.find("img", alt="gradcam_gamma.png")

    # the other controls: energy axis, baseline and requirement overlays
    dom = _render_in_browser(chromium, page, f"#select={single}&axis=reco_energy&baseline=0&requirement=none",
                             tmp_path / "profile")
    assert {a["data-entry"] for a in dom.find("g", **{"class": "series"})} == {single}
    assert dom.find("svg", data_plot="angular_resolution")[0]["data-curve"] == "angular_resolution_vs_reco_energy"
    assert not dom.find("g", **{"class": "requirement"})
    assert dom.find("p", **{"class": "empty"}), "one run selected: no config differences to show"
    # bins with fewer events than the figures' threshold: hollow grey points, with a note stating it
    curves = _payload_of(page.read_text(encoding="utf-8"))["entries"][1]["curves"]
    sparse = sum(value is not None and count < MIN_EVENTS_PER_BIN for name, curve in curves.items()
                 if name.endswith("_vs_reco_energy") for value, count in zip(curve["value"], curve["n_events"]))
    assert sparse and len(dom.find("circle", **{"class": "few-events"})) == sparse
    assert len(dom.find("p", **{"class": "plot-note few-note"})) == sparse  # one sparse bin in each plot
    assert f"bins with &lt; {MIN_EVENTS_PER_BIN} events (outside line and band)" in dom.html

    # clicking a metrics header sorts the rows (twice: the other way round)
    aucs = {e: json.loads((runs["sweep"] / e.split("/")[-1] / "metrics.json").read_text())["scalars"]["auc"]
            for e in seeds}
    by_auc = sorted(seeds, key=aucs.get)
    for sort, expected in (("auc", by_auc), ("-auc", by_auc[::-1])):
        fragment = f"#select={','.join(seeds)}&baseline=0&sort={sort}"
        dom = _render_in_browser(chromium, page, fragment, tmp_path / "profile")
        assert [a["data-entry"] for a in dom.find("tr") if "data-entry" in a] == expected

    # nothing selected: every plot stays in place, empty
    dom = _render_in_browser(chromium, page, "#select=&baseline=0", tmp_path / "profile")
    assert not dom.find("g", **{"class": "series"})
    assert {a["data-plot"] for a in dom.find("svg", **{"class": "plot"})} == plots


@pytest.mark.slow
def test_page_of_two_families_in_headless_browser(
    chromium: str, runs: dict[str, Path], shared_data: Path, tmp_path: Path
) -> None:
    """An IACT and a calorimeter run, both with an ``energy_resolution``: the page draws each in its own plot
    with its family's axis, overlays the CTA requirements on the IACT plots only, and ranks neither against
    the other in the metrics table."""
    calorimeter = _make_calorimeter_run(tmp_path / "califa" / "run", resolution=0.04)
    page = tmp_path / "board.html"
    code, out = run_board(str(runs["single"]), str(calorimeter), "--output", str(page),
                     "--requirements", str(shared_data / "iact/irf/cta_requirements"))
    assert code == 0, out
    dom = _render_in_browser(chromium, page, "", tmp_path / "profile")
    plots = {a["data-plot"]: a["data-curve"] for a in dom.find("svg", **{"class": "plot"})}
    assert plots["calorimeter/energy_resolution"] == "calorimeter/energy_resolution_vs_gamma_energy"
    assert plots["iact/energy_resolution"] == "iact/energy_resolution_vs_true_energy"
    drawn = [a["data-entry"] for a in dom.find("g", **{"class": "series"})]
    assert drawn.count("califa/run") == 1  # its one curve, in its own plot
    assert drawn.count("small/deep_seed5") == len(plots) - 1  # every other plot, the ROC included
    assert ">gamma energy, rest frame [MeV]<" in dom.html and ">true energy [TeV]<" in dom.html
    assert len(dom.find("g", **{"class": "requirement"})) == 2  # the IACT angular and energy resolution only
    headers = {a["data-key"] for a in dom.find("th") if "data-key" in a}
    assert {"iact/energy_resolution", "calorimeter/energy_resolution", "n_events"} <= headers
    assert not dom.find("td", **{"class": "best num"}), "no column holds two runs of one family to rank"


def test_points_of_an_axis_with_edges_at_or_below_zero_sit_at_the_bins_middles(chromium: str, tmp_path: Path) -> None:
    """Counts (gammas per event, bins -0.5..0.5, 0.5..1.5...) are drawn at 0, 1, 2, as the figures draw them
    (``bin_centers``): a geometric centre of the positive bins put them at 0.87, 1.94."""
    (tmp_path / "califa" / "counts").mkdir(parents=True)
    run = _make_calorimeter_run(tmp_path / "califa" / "counts", 0.05)
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["curves"]["clusters_per_event_vs_gammas_per_event"] = curve_record(
        np.array([-0.5, 0.5, 1.5, 2.5]), np.array([0.0, 1.1, 2.2]), np.full(3, 50), x="gammas_per_event", x_unit="",
        unit="")
    write_json_atomic(run / "metrics.json", metrics)
    page = tmp_path / "board.html"
    code, out = run_board(str(run), "--output", str(page))
    assert code == 0, out
    html = _render_in_browser(chromium, page, "", tmp_path / "profile").html
    positions = re.findall(r"<title>[^<]*\ngammas per event: ([^\n<]+)\n", html)
    assert positions == ["0", "1", "2"], positions


def _make_collider_run(path: Path, rejection: float, seed: int = 0, limit: bool = False) -> Path:
    """A collider run whose background rejection at 30 % signal efficiency is ``rejection``; ``limit``: no background
    event was kept, so that it is a lower limit, named in metrics.json's ``limits``."""
    scalars = {"auc": 0.9 + 0.01 * seed, "background_rejection_at_30": rejection, "n_background_at_30": 0 if limit else 40}
    # its rejection curve: the background events each cut keeps, none at the lowest signal efficiency if ``limit``
    curve = curve_record(np.linspace(0.0, 1.0, 6), np.array([rejection, 60.0, 20.0, 6.0, 2.0]),
                         np.array([0 if limit else 3, 40, 120, 400, 1200]), x="signal_efficiency", x_unit="", unit="")
    metrics = {"evaluator": "collider", "n_events": 800, "curves": {"background_rejection_vs_signal_efficiency": curve},
               "scalars": scalars}
    if limit:
        metrics["limits"] = {"background_rejection_at_30": "lower"}
    write_json_atomic(path / "metrics.json", metrics)
    (path / "config.yaml").write_text(yaml.safe_dump({"name": "hh", "seed": seed, "model": {"name": "multiscale_transformer"}}))
    write_json_atomic(path / "run.json", {"state": "completed", "train_seconds": 3.0})
    return path


@pytest.fixture
def collider_runs(tmp_path: Path) -> dict[str, Path]:
    """A run that kept no background at 30 % (rejection at least 1200), one that kept some (rejection 80), and a
    sweep of two seeds, one of them a limit."""
    root = tmp_path / "hh"
    sweep = root / "sweep"
    for seed, rejection, limit in ((1, 1200.0, True), (2, 90.0, False)):
        (sweep / f"seed{seed}").mkdir(parents=True)
        _make_collider_run(sweep / f"seed{seed}", rejection, seed, limit)
    write_json_atomic(sweep / SWEEP_FILE, {"name": "hh", "seeds": [1, 2], "runs": ["seed1", "seed2"]})
    runs = {"limit": root / "none_kept", "estimate": root / "some_kept", "sweep": sweep}
    for name, rejection in (("limit", 1200.0), ("estimate", 80.0)):
        runs[name].mkdir(parents=True)
        _make_collider_run(runs[name], rejection, limit=name == "limit")
    return runs


def test_a_rejection_limit_reads_as_one_on_the_board_and_in_a_sweeps_mean(collider_runs: dict[str, Path]) -> None:
    """No background event kept is a rejection of at least the limit the sample gives: shown as such, and a sweep's
    mean with one such seed is a limit too, over both seeds."""
    payload = board_payload(collect_entries([collider_runs["limit"], collider_runs["estimate"], collider_runs["sweep"]]))
    limit, estimate, sweep = payload["entries"]
    assert limit["limits"] == {"background_rejection_at_30": "\u2265"} and limit["scalars"]["background_rejection_at_30"] == 1200.0
    assert estimate["limits"] == {} and estimate["scalars"]["background_rejection_at_30"] == 80.0
    assert sweep["limits"] == {"background_rejection_at_30": "\u2265"}
    assert sweep["scalars"]["background_rejection_at_30"] == 645.0 and sweep["scalar_runs"]["background_rejection_at_30"] == [2, 2]


def test_limits_naming_no_scalar_or_no_side_are_refused(collider_runs: dict[str, Path], tmp_path: Path) -> None:
    metrics_file = collider_runs["estimate"] / "metrics.json"
    metrics = json.loads(metrics_file.read_text())
    for limits in ({"background_rejection_at_50": "lower"}, {"background_rejection_at_30": "at least"}, ["auc"],
                   {"background_rejection_at_30": ["lower"]}):
        write_json_atomic(metrics_file, {**metrics, "limits": limits})
        code, out = run_board(str(collider_runs["estimate"]), "--output", str(tmp_path / "b.html"))
        assert code == 1 and says(out, "'limits' must map scalars to 'lower' or 'upper'")
        assert not (tmp_path / "b.html").exists()


def test_an_earlier_versions_unbounded_rejection_reads_as_a_lower_limit(collider_runs: dict[str, Path]) -> None:
    """metrics.json files of earlier versions wrote null for a rejection where no background was kept, named in
    ``unbounded`` (+infinity): a lower limit of unknown value, and a sweep's mean over the other seeds one too."""
    for run in (collider_runs["limit"], collider_runs["sweep"] / "seed1"):
        metrics = json.loads((run / "metrics.json").read_text())
        del metrics["limits"]
        metrics["scalars"]["background_rejection_at_30"] = None
        write_json_atomic(run / "metrics.json", {**metrics, "unbounded": ["background_rejection_at_30"]})
    payload = board_payload(collect_entries([collider_runs["limit"], collider_runs["sweep"]]))
    old, sweep = payload["entries"]
    assert old["limits"] == {"background_rejection_at_30": "\u2265"} and old["scalars"]["background_rejection_at_30"] is None
    assert sweep["limits"] == {"background_rejection_at_30": "\u2265"}
    assert sweep["scalars"]["background_rejection_at_30"] == 90.0 and sweep["scalar_runs"]["background_rejection_at_30"] == [1, 2]


def test_a_rejection_limit_ranks_by_its_value_in_the_browser(chromium: str, collider_runs: dict[str, Path], tmp_path: Path) -> None:
    seed2 = collider_runs["sweep"] / "seed2"
    metrics = json.loads((seed2 / "metrics.json").read_text())
    write_json_atomic(seed2 / "metrics.json", {**metrics, "scalars": {**metrics["scalars"], "auc": None}})  # undefined
    page = tmp_path / "board.html"
    code, out = run_board(str(collider_runs["estimate"]), str(collider_runs["limit"]), str(collider_runs["sweep"]),
                          "--output", str(page))
    assert code == 0, out
    dom = _render_in_browser(chromium, page, "#sort=-background_rejection_at_30", tmp_path / "profile")
    rows = [a["data-entry"] for a in dom.find("tr") if "data-entry" in a]
    assert rows == ["hh/none_kept", "hh/sweep", "hh/some_kept"], rows
    row = re.search(r'<tr data-entry="hh/none_kept">(.*?)</tr>', dom.html, re.S).group(1)
    assert '<td class="best num">\u2265 1200</td>' in row
    finite_row = re.search(r'<tr data-entry="hh/some_kept">(.*?)</tr>', dom.html, re.S).group(1)
    assert '<td class="num">80</td>' in finite_row, "not marked best"
    sweep_row = re.search(r'<tr data-entry="hh/sweep">(.*?)</tr>', dom.html, re.S).group(1)
    assert ">0.9100 (1 of 2 runs)<" in sweep_row  # the AUC of seed 1 alone
    # the rejection curve marks the bin whose cut keeps no background event as a limit: of the run that kept none, and
    # of the sweep's mean, as one of its seeds kept none
    limits = dom.find("path", **{"class": "limit"})
    assert len(limits) == 2 and "lower limit: no background events kept" in dom.html
    assert len(dom.find("p", **{"class": "plot-note limit-note"})) == 1
