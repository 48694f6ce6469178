"""Issue 22: a learned method of a clustering benchmark predicted again under the calorimeter's own turns and
mirrors (``data.params.test_time_views``), against the same runs without them, on the same test events.

Reads a ``calorimeter_clustering.py`` output folder (its ``results.json`` and the runs in ``runs/``), predicts
each seed's test split of ``--method`` again with ``--views`` views (``showerlearn predict RUN --set
data.params.test_time_views=K``, into ``runs/seedN/METHOD/test_time_views_K.h5``, reused while the run's best
checkpoint is the one that predicted it), and compares, seed by seed, the photopeak efficiency, the fake-cluster
rate, the hard regime and the gap to the oracle against the windows of the same seed: R3BRoot's 0.25 rad
rectangle, the 0.4 rad cone and the cone at the method's own fake-cluster rate (with views and without: the
views change it), as ``calorimeter_clustering.py`` counts them. Writes ``test_time_views_K.md`` and ``.json``
into the folder.

    python benchmarks/calorimeter_test_time_views.py --output benchmarks/results/calorimeter_clustering_200k_azimuth --views 7
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from calorimeter_clustering import (  # benchmarks/ is not a package
    CLASSICAL, METHODS, _fmt, _report, _stat, gap_decomposition, window_at_fake_rate,
)
from showerlearn.calorimeter.data.decoding import PAIR_OUTPUTS
from showerlearn.cli.common import quiet_libraries
from showerlearn.config import load_config
from showerlearn.config.components import declared_heads
from showerlearn.engine.predict import COMPLETE_ATTRIBUTE, predict_split
from showerlearn.engine.prediction_model import run_model_sha256
from showerlearn.engine.run_dir import RunDir
from showerlearn.io.atomic import write_json_atomic, write_text_atomic
from showerlearn.io.tables import read_attributes, read_tables
from showerlearn.registry import MODELS

#: the windows each seed's gains are counted against, with their labels
REFERENCES = {"r3b_rectangle": "R3B 0.25", "r3b_cone_040": "cone 0.4", "matched_window": "cone at its fake rate"}


def _predicted(run: Path, views: int) -> tuple[Path, float]:
    """The run's test split predicted with ``views`` views and the seconds it took (0 when a complete file of the
    run's best checkpoint is there already)."""
    quiet_libraries()
    output = run / f"test_time_views_{views}.h5"
    if output.is_file():
        found = read_attributes(output)
        if COMPLETE_ATTRIBUTE in found and found.get("model_sha256") == run_model_sha256(RunDir.existing(run)):
            return output, 0.0
    start = time.perf_counter()
    predict_split(RunDir.existing(run), output, [f"data.params.test_time_views={views}"], progress=False, overwrite=True)
    return output, time.perf_counter() - start


def _check_method(folder: Path, method: str) -> None:
    """Only a learned method with pair outputs has views to average: anything else is refused before any work."""
    if method not in METHODS or method in CLASSICAL:
        raise SystemExit(f"--method {method}: expected a learned method of the benchmark, one of "
                         f"{', '.join(m for m in METHODS if m not in CLASSICAL)}")
    runs = sorted((folder / "runs").glob(f"seed*/{method}/config.yaml"))
    if not runs:
        raise SystemExit(f"{folder}: no {method} run in runs/seed*/")
    model = load_config(runs[0]).model
    heads = declared_heads(MODELS.get(model.name), model.params or {})
    if heads is None or not heads <= PAIR_OUTPUTS:
        raise SystemExit(f"--method {method}: its network returns {sorted(heads or [])}, not pair probabilities to average")


def _compare(seed: int, stored: Mapping[str, Any], method: str, tables: Mapping[str, Any],
             oracle: Mapping[str, Any]) -> dict[str, Any]:
    """The method's scalars, gains and losses with views (``tables``) next to those without (``stored``: the
    benchmark's results of this seed, its scalars and its window scan)."""
    scalars = stored["scalars"]
    rows = {"without": scalars[method], "with": _report(tables)["scalars"]}
    gains: dict[str, dict[str, dict[str, float]]] = {}
    for label, values in rows.items():
        windows = {name: scalars[name] for name in REFERENCES if name in scalars}
        if (matched := window_at_fake_rate(stored["scan"], values["fake_cluster_rate"])) is not None:
            windows["matched_window"] = matched
        gains[label] = {}
        for name, window in windows.items():
            w, o = window["photopeak_efficiency"], scalars["oracle"]["photopeak_efficiency"]
            gains[label][name] = {
                "gap_closed": (values["photopeak_efficiency"] - w) / (o - w),
                "hard_gain": values["photopeak_efficiency_hard"] / window["photopeak_efficiency_hard"] - 1,
                "fake_rate_not_higher": bool(values["fake_cluster_rate"] <= window.get("fake_cluster_rate", values["fake_cluster_rate"])),
            }
    return {"seed": seed, "scalars": rows, "gains": gains, "gaps_with": gap_decomposition(tables, oracle)}


def analyse(folder: Path, method: str, views: int, jobs: int) -> dict[str, Any]:
    _check_method(folder, method)
    results = json.loads((folder / "results.json").read_text())
    seeds = results["settings"]["seeds"]
    runs = [folder / "runs" / f"seed{seed}" / method for seed in seeds]
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        predicted = list(pool.map(_predicted, runs, [views] * len(runs)))
    compared = []
    for seed, (path, _) in zip(seeds, predicted, strict=True):
        stored = results["per_seed"][str(seed)]
        oracle = read_tables(RunDir.existing(folder / "runs" / f"seed{seed}" / "oracle").predictions_file)
        tables = read_tables(path)
        if not np.array_equal(tables["predictions"]["event_id"], oracle["predictions"]["event_id"]):
            raise RuntimeError(f"seed {seed}: {path} holds other events than the oracle's test split")
        compared.append(_compare(seed, stored, method, tables, oracle))
    return {"method": method, "views": views, "seeds": seeds, "per_seed": compared,
            "seconds": [seconds for _, seconds in predicted]}


def _percent(values: Sequence[float], sign: str = "") -> str:
    if not np.isfinite(values).any():
        return "-"
    mean, std = _stat(values)
    return f"{100 * mean:{sign}.1f} ± {100 * std:.1f} %"


def markdown(summary: Mapping[str, Any], command: str, wording: Mapping[str, str] | None = None) -> str:
    """The tables of :func:`analyse`'s summary; ``wording``: what the method was predicted with, for another study
    of the same shape (``calorimeter_ensemble.py``): ``title``, ``row`` (its table row), ``with``, ``without`` and
    ``footnote``."""
    views, per_seed = summary["views"], summary["per_seed"]
    words = wording or {"title": f"{summary['method']} with {views} test-time view{'s' if views != 1 else ''}",
                        "row": f"{views + 1} view{'s' if views else ''} averaged", "with": "with the views",
                        "without": "without views",
                        "footnote": "The prediction time is that of the views' run, 0 where the file was there already."}

    def column(label: str, key: str) -> list[float]:
        return [seed["scalars"][label][key] for seed in per_seed]

    def gain(label: str, window: str, key: str) -> list[float]:
        return [seed["gains"][label].get(window, {}).get(key, np.nan) for seed in per_seed]

    header = ("| | photopeak eff. | fake rate | hard: photopeak eff. | gap closed vs " + " / ".join(REFERENCES.values())
              + " | hard gain vs " + " / ".join(REFERENCES.values()) + " |")
    note = ("A window of a seed without a value (the cone at the method's fake-cluster rate where no scanned cone has "
            "so few fake clusters) leaves that seed out of its mean.")
    lines = [f"# {words['title']} (mean ± sd of seeds {', '.join(map(str, summary['seeds']))})",
             "", "Command:", "", f"    {command}", "", header, "|---|---:|---:|---:|---|---|"]
    for label, name in (("without", "as it is (1 view)" if wording is None else "as it is"), ("with", words["row"])):
        closed = " / ".join(_percent(gain(label, w, "gap_closed")) for w in REFERENCES)
        hard = " / ".join(_percent(gain(label, w, "hard_gain"), sign="+") for w in REFERENCES)
        lines.append(f"| {name} | {_fmt(column(label, 'photopeak_efficiency'))} | {_fmt(column(label, 'fake_cluster_rate'))} | "
                     f"{_fmt(column(label, 'photopeak_efficiency_hard'))} | {closed} | {hard} |")
    lines.append("")
    for label, name in (("without", words["without"]), ("with", words["with"])):
        fewer = [all(seed["gains"][label][w]["fake_rate_not_higher"] for seed in per_seed) for w in ("r3b_rectangle", "r3b_cone_040")]
        lines.append(f"- Fake-cluster rate {name} not above R3B 0.25's / cone 0.4's in every seed: "
                     f"{' / '.join('yes' if f else 'no' for f in fewer)}.")
    lines += ["", note, "", f"Paired by seed (the same test events), {words['with']} minus {words['without']}:", "",
              "| seed | photopeak eff. | fake rate | gap closed vs R3B 0.25 | hard gain vs R3B 0.25 | prediction [s] |",
              "|---:|---:|---:|---:|---:|---:|"]
    differences = {key: [] for key in ("peak", "fake", "gap", "hard")}
    for seed, seconds in zip(per_seed, summary["seconds"], strict=True):
        row = {"peak": seed["scalars"]["with"]["photopeak_efficiency"] - seed["scalars"]["without"]["photopeak_efficiency"],
               "fake": seed["scalars"]["with"]["fake_cluster_rate"] - seed["scalars"]["without"]["fake_cluster_rate"],
               "gap": 100 * (seed["gains"]["with"]["r3b_rectangle"]["gap_closed"] - seed["gains"]["without"]["r3b_rectangle"]["gap_closed"]),
               "hard": 100 * (seed["gains"]["with"]["r3b_rectangle"]["hard_gain"] - seed["gains"]["without"]["r3b_rectangle"]["hard_gain"])}
        for key, value in row.items():
            differences[key].append(value)
        lines.append(f"| {seed['seed']} | {row['peak']:+.4f} | {row['fake']:+.4f} | {row['gap']:+.1f} points | "
                     f"{row['hard']:+.1f} points | {seconds:.0f} |")
    mean = {key: _stat(values) for key, values in differences.items()}
    lines.append(f"| mean ± sd | {mean['peak'][0]:+.4f} ± {mean['peak'][1]:.4f} | {mean['fake'][0]:+.4f} ± {mean['fake'][1]:.4f} | "
                 f"{mean['gap'][0]:+.1f} ± {mean['gap'][1]:.1f} points | {mean['hard'][0]:+.1f} ± {mean['hard'][1]:.1f} points | |")
    losses = {key: _stat([seed["gaps_with"][key] for seed in per_seed])[0] for key in ("merged", "far_soft_only", "other_missing")}
    lines += ["", f"Losses against the oracle {words['with']}, as shares of all gammas: merged {100 * losses['merged']:.1f} %, "
              f"missing only far soft hits {100 * losses['far_soft_only']:.1f} %, missing other hits {100 * losses['other_missing']:.1f} %.",
              f"({words['footnote']})", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, required=True, help="a calorimeter_clustering.py output folder")
    parser.add_argument("--views", type=int, default=7, help="test-time views besides the event as it is (default 7)")
    parser.add_argument("--method", default="transformer", help="the learned method to predict again (default transformer)")
    parser.add_argument("--jobs", type=int, default=2, help="seeds predicted at once, one torch thread each (default 2)")
    args = parser.parse_args(argv)
    quiet_libraries()
    summary = analyse(args.output, args.method, args.views, args.jobs)
    command = (f"python benchmarks/calorimeter_test_time_views.py --output {args.output} --views {args.views}"
               + (f" --method {args.method}" if args.method != "transformer" else ""))
    stem = args.output / f"test_time_views_{args.views}"
    write_json_atomic(stem.with_suffix(".json"), summary)
    write_text_atomic(stem.with_suffix(".md"), markdown(summary, command))
    print(stem.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
