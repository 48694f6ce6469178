"""Calibration of the LST simulator against published single-telescope performance (issue 4).

Runs the Hillas + random-forest baseline exactly as users run it — ``examples/hillas_rf_small.yaml``
through the engine's ``train`` (simulate -> cuts -> split -> forests -> predictions -> ``iact``
evaluator) — with ``--set``-style overrides for the number of events, the seed, the energy bins
and the output / cache folders, then reads the run's ``metrics.json`` and checks, per true-energy
bin, the targets of the standard LST-1 mono analysis (CTA-LST Project, ApJ 956:80, 2023):

* energy resolution (68 % containment of ``|E_reco - E_true| / E_true``) 0.20-0.35,
* angular resolution (68 % containment radius) 0.15-0.40 deg,
* gamma/hadron AUC 0.80-0.95,

the resolutions per bin between 0.1 and 1 TeV (the neighbouring bins are shown for context), the AUC
on all test events (the per-bin AUC is shown for information). The run adds the LST quality cut
leakage2 < 0.2 to the example's intensity cut, as the published numbers use it (``--max-leakage none``:
the example's cuts unchanged). No metric is computed
here: every number comes from the evaluator's curves (``energy_resolution_vs_true_energy``,
``angular_resolution_vs_true_energy``, ``auc_vs_reco_energy``; the evaluator bins the AUC in
*reconstructed* energy, since a proton's true energy is not comparable to a gamma's).

Writes the table (markdown) to ``--table`` and the run's key figures, ``metrics.json`` and
``config.yaml`` to ``--output``. The run directory and the simulated DL1 file stay under
``--work-dir`` (in /tmp by default: never inside the repository).

Run ``python benchmarks/baseline_calibration.py --help``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from showerlearn.config import ExperimentConfig, load_config
from showerlearn.engine.run_dir import RunDir
from showerlearn.engine.runner import train
from showerlearn.io.atomic import atomic_path, write_text_atomic

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "examples" / "hillas_rf_small.yaml"
RESULTS = REPO / "benchmarks" / "results"
#: true-energy bins [TeV]: the two checked decades' halves plus one neighbour on each side
ENERGY_BINS = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
#: bins whose values must fall in the target ranges (ApJ 956:80 quotes them for 100 GeV - 1 TeV)
CHECKED = (0.1, 1.0)
#: (curve in metrics.json, column title, target range, format, checked per bin). The AUC target is a
#: figure for the whole sample (the issue ties the 0.1-1 TeV range to the resolutions): it is checked
#: on the evaluator's overall ``auc``; the per-bin AUC is shown for information.
METRICS = (
    ("energy_resolution_vs_true_energy", "E res.", (0.20, 0.35), "{:.3f}", True),
    ("angular_resolution_vs_true_energy", "ang. res. [deg]", (0.15, 0.40), "{:.3f}", True),
    ("auc_vs_reco_energy", "AUC in reco-E bin", (0.80, 0.95), "{:.3f}", False),
)
AUC_TARGET = (0.80, 0.95)
#: LST quality cut on leakage2 (ApJ 956:80 selects intensity > 50 p.e. and leakage2 < 0.2)
MAX_LEAKAGE = 0.2
#: figures of the run copied next to the table (PNG and PDF)
FIGURES = (
    "energy_resolution_vs_true_energy",
    "angular_resolution_vs_true_energy",
    "energy_bias_vs_true_energy",
    "auc_vs_reco_energy",
    "roc",
    "gammaness",
    "energy_migration",
)


def overrides(events: int, seed: int, n_jobs: int, work_dir: Path, max_leakage: float | None) -> list[str]:
    """``--set`` overrides of the example config used for the calibration run."""
    leakage = [] if max_leakage is None else [f"data.params.cuts.max_leakage={max_leakage}"]
    return [*leakage,
        f"seed={seed}",
        f"output_dir={work_dir / 'runs'}",
        f"data.params.cache_dir={work_dir / 'cache'}",
        f"data.params.simulate.events={events}",
        f"data.params.simulate.seed={seed}",
        f"data.params.simulate.n_jobs={n_jobs}",
        f"estimator.params.n_jobs={n_jobs}",
        f"evaluation.params.energy_bins={list(ENERGY_BINS)}",
        "evaluation.params.label=Hillas + RF",  # legend of the figures
    ]


def _value(curve: dict[str, Any], key: str, index: int) -> float:
    values = curve.get(key)
    value = None if values is None else values[index]
    return np.nan if value is None else float(value)


def _cell(curve: dict[str, Any], index: int, fmt: str) -> str:
    value, low, high = (_value(curve, key, index) for key in ("value", "ci_low", "ci_high"))
    if not np.isfinite(value):
        return "—"
    text = fmt.format(value)
    return f"{text} [{fmt.format(low)}, {fmt.format(high)}]" if np.isfinite(low) and np.isfinite(high) else text


def calibration_table(metrics: dict[str, Any]) -> tuple[list[str], bool]:
    """Markdown rows of the per-bin table (from ``metrics.json``) and whether every check passed."""
    curves = metrics["curves"]
    missing = [name for name, *_ in METRICS if name not in curves]
    if missing:
        raise KeyError(f"metrics.json lacks the curves {missing}; is it an 'iact' evaluation with energy bins?")
    edges = np.asarray(curves[METRICS[0][0]]["edges"], dtype=float)
    header = "| E range [TeV] | gammas | " + " | ".join(
        f"{title} (target {low:g}-{high:g})" if per_bin else f"{title} (info)"
        for _, title, (low, high), _, per_bin in METRICS
    ) + " | pass (0.1-1 TeV) |"
    rows = [header, "|" + "---|" * (3 + len(METRICS))]
    all_pass = True
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        checked = lo >= CHECKED[0] - 1e-9 and hi <= CHECKED[1] + 1e-9
        cells, verdicts, titles = [], [], []
        for name, title, (low, high), fmt, per_bin in METRICS:
            value = _value(curves[name], "value", i)
            cells.append(_cell(curves[name], i, fmt))
            if per_bin:
                titles.append(title)
                verdicts.append(bool(np.isfinite(value) and low <= value <= high))
        if checked:
            verdict = "PASS" if all(verdicts) else "FAIL (" + ", ".join(
                title for title, ok in zip(titles, verdicts) if not ok
            ) + ")"
            all_pass &= all(verdicts)
        else:
            verdict = "(not checked)"
        n_gamma = curves[METRICS[0][0]]["n_events"][i]
        rows.append(f"| {lo:g}-{hi:g} | {n_gamma} | " + " | ".join(cells) + f" | {verdict} |")
    return rows, all_pass


def _fields(values: dict[str, Any]) -> str:
    return ", ".join(f"`{key}: {value}`" for key, value in sorted(values.items())) or "none"


def _copy_atomic(source: Path, target: Path) -> None:
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)


def export_run(run: RunDir, output: Path) -> list[Path]:
    """Copy the key figures, metrics.json and config.yaml of ``run`` into ``output``."""
    output.mkdir(parents=True, exist_ok=True)
    copied = []
    for stem in FIGURES:
        for fmt in ("png", "pdf"):
            source = run.plots / f"{stem}.{fmt}"
            if not source.is_file():
                raise FileNotFoundError(f"{source}: figure missing from the run (evaluator output changed?)")
            _copy_atomic(source, output / source.name)
            copied.append(output / source.name)
    for source in (run.metrics_file, run.config_file):
        _copy_atomic(source, output / source.name)
        copied.append(output / source.name)
    return copied


def report(
    metrics: dict[str, Any], config: ExperimentConfig, *, run: RunDir, load: float | None, figures_dir: Path
) -> tuple[str, bool]:
    """The markdown document: header (what was run, from the run's config), the per-bin table, overall scalars."""
    rows, all_pass = calibration_table(metrics)
    scalars = metrics["scalars"]
    auc = scalars.get("auc")
    auc_ok = auc is not None and AUC_TARGET[0] <= auc <= AUC_TARGET[1]
    simulate = config.data.params["simulate"]
    events, seed = simulate["events"], simulate["seed"]
    cuts = config.data.params["cuts"]
    leakage = cuts.get("max_leakage")
    selection = f"intensity > {cuts['min_intensity']:g} p.e." + (
        f" and leakage2 < {leakage:g} (the LST quality cuts)" if leakage is not None
        else ", no leakage cut (the example config as shipped)"
    )
    command = f"--events {events} --seed {seed}" + (" --max-leakage none" if leakage is None else "")
    seconds = run.status().get("train_seconds")
    timing = "?" if seconds is None else (
        f"{seconds:.0f} s wall (run.json `train_seconds`: simulation unless cached, features, forests, evaluation)"
    )
    if load is not None:
        timing += f", load average {load:.1f} at the start"
    try:
        figures = figures_dir.relative_to(RESULTS)
    except ValueError:
        figures = figures_dir
    lines = [
        "# Simulator calibration: Hillas + RF baseline vs published LST-1 mono performance",
        "",
        f"`python benchmarks/baseline_calibration.py {command}`: "
        f"`examples/hillas_rf_small.yaml` through the engine (`showerlearn train`), {events} simulated "
        f"triggered events (50 % protons; simulator defaults except {_fields(simulate['config'])}), "
        f"selection {selection} on the file's tailcuts-8/4 parameters, split 70/15/15 %, "
        f"lstchain-standard forests; "
        f"{scalars['n_events']} test events ({scalars['n_gamma']} gammas). Run: {timing}; 2 shared cores "
        f"(timings are noisy). Run directory: `{run.path}`.",
        "",
        "Values from the run's `metrics.json` with the evaluator's 95 % bootstrap interval in brackets. "
        "Energy resolution: 68 % containment of |ΔE/E|; angular resolution: 68 % containment radius; "
        "both on all test gammas of the bin (true energy, no gammaness cut). AUC: gammas vs protons "
        "of the same *reconstructed*-energy bin (the evaluator's `auc_vs_reco_energy`), for information; "
        "the AUC target is checked on all test events. Targets (CTA-LST Project, ApJ 956:80, 2023): "
        "resolutions checked per bin between 0.1 and 1 TeV.",
        "",
        *rows,
        "",
        f"All test events: AUC {auc:.3f} (target {AUC_TARGET[0]:g}-{AUC_TARGET[1]:g}: {'PASS' if auc_ok else 'FAIL'}), "
        f"energy resolution {scalars['energy_resolution']:.3f}, bias {scalars['energy_bias']:+.3f}, "
        f"angular resolution {scalars['angular_resolution_deg']:.3f} deg, gamma efficiency "
        f"{scalars['gamma_efficiency']:.2f} / proton rejection {scalars['proton_rejection']:.2f} at "
        f"gammaness {metrics['settings']['gammaness_cut']}.",
        "",
        f"**Calibration {'met' if all_pass and auc_ok else 'NOT met'}** between 0.1 and 1 TeV.",
        "",
        f"Figures (PNG + PDF) in `{figures}/`: " + ", ".join(f"`{stem}`" for stem in FIGURES) + ".",
        "",
    ]
    return "\n".join(lines), all_pass and auc_ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000, help="simulated triggered events (default 20000)")
    parser.add_argument("--seed", type=int, default=1, help="experiment and simulation seed (default 1)")
    parser.add_argument("--n-jobs", type=int, default=2, help="simulator and forest worker processes (default 2)")
    parser.add_argument(
        "--output", type=Path, default=RESULTS / "baseline_calibration",
        help="folder for the run's figures, metrics.json and config.yaml (default benchmarks/results/baseline_calibration/)",
    )
    parser.add_argument(
        "--table", type=Path, default=RESULTS / "baseline_calibration.md",
        help="markdown table (default benchmarks/results/baseline_calibration.md)",
    )
    parser.add_argument(
        "--work-dir", type=Path, default=Path("/tmp/showerlearn_baseline_calibration"),
        help="run directories and the cached simulated DL1 file (default /tmp/showerlearn_baseline_calibration)",
    )
    parser.add_argument("--config", type=Path, default=CONFIG, help="experiment config (default examples/hillas_rf_small.yaml)")
    parser.add_argument(
        "--max-leakage", type=lambda text: None if text.lower() == "none" else float(text), default=MAX_LEAKAGE,
        help="leakage2 quality cut added to the example's cuts ('none': the example's cuts unchanged; default 0.2)",
    )
    parser.add_argument(
        "--set", dest="extra", action="append", default=[], metavar="KEY=VALUE",
        help="further config override, e.g. data.params.simulate.config.shape_fluctuation=0.25 (repeatable)",
    )
    parser.add_argument("--run", type=Path, default=None, help="report an existing run directory instead of training")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    load: float | None = None
    if args.run is None:
        load = os.getloadavg()[0]
        changes = overrides(args.events, args.seed, args.n_jobs, args.work_dir, args.max_leakage) + args.extra
        config = load_config(args.config, changes)
        run = train(config, progress=False)
    else:
        run = RunDir.existing(args.run)
    metrics = json.loads(run.metrics_file.read_text())
    export_run(run, args.output)
    # the header describes what the run really used (its resolved config), also with --run
    text, passed = report(
        metrics, load_config(run.config_file), run=run, load=load, figures_dir=args.output
    )
    write_text_atomic(args.table, text)
    print(text)
    print(f"table: {args.table}\nfigures: {args.output}")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
