"""Explanation criteria of gamma-PhysNet with and without Dual Attention over several seeds (issue 7).

Trains ``examples/gamma_physnet_small.yaml`` and ``examples/gamma_physnet_da_small.yaml`` as seed sweeps
(``showerlearn sweep``), simulates a held-out file with true p.e. images, and runs ``showerlearn
explain`` on the attention sweep with the other as ``--compare``: Grad-CAM per task and attention maps
of a few events (mean/std over seeds) and the criteria table (signal correlation, mass on the signal
and on the border, distance to the shower centroid; mean and std over seeds) of both models.

It also reports the acceptance measure: the median fraction of the class score's and the energy's
Grad-CAM mass on the true signal region of well-reconstructed gammas, next to the same network with
random weights (the model-randomisation control), for the last and the first backbone stage, Grad-CAM
and HiResCAM, with and without the empty-camera reference.

    python benchmarks/explain_criteria.py --seeds 3              # train both sweeps, then explain
    python benchmarks/explain_criteria.py --run RUN_DIRECTORY    # only the control table of one run
                                                                 # (its config.yaml is copied beside it)

Copies ``criteria.md``, ``criteria.json``, the criteria figure and one event figure into ``--output``.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from _machine import command_line  # benchmarks/, first on the path of a script run from it

from showerlearn.cli.common import quiet_libraries
from showerlearn.config import load_config
from showerlearn.engine.run_dir import RunDir
from showerlearn.engine.sweep import sweep, sweep_runs
from showerlearn.explain.driver import REFERENCES, CriteriaSettings
from showerlearn.explain.report import CRITERIA_FOLDER, EXPLAIN_FOLDER, write_explanations
from showerlearn.iact.explain.signal import grad_cam_signal_fraction
from showerlearn.io.atomic import write_text_atomic
from showerlearn.iact.simulation import IACTSimulationConfig, simulate_iact

ROOT = Path(__file__).resolve().parents[1]
MODELS = {
    "gamma-PhysNet": ROOT / "examples" / "gamma_physnet_small.yaml",
    "gamma-PhysNet-DA": ROOT / "examples" / "gamma_physnet_da_small.yaml",
}


LAYERS = {"last stage": None, "first stage (backbone.hooks.0)": "backbone.hooks.0"}
TARGETS = {"class score": "particle:0", "energy": "energy"}


def control_table(run: Path, held_out: Path, n_events: int) -> list[str]:
    """Markdown rows: signal fraction of trained vs randomised weights per layer, method, reference and task."""
    lines = [
        "| layer, method, reference | " + " | ".join(f"{t}: trained | random weights" for t in TARGETS) + " | chance |",
        "|---" * (2 * len(TARGETS) + 2) + "|",
    ]
    for layer_label, layer in LAYERS.items():
        for method in ("gradcam", "hirescam"):
            for reference in REFERENCES:
                cells, chance = [], float("nan")
                for target in TARGETS.values():
                    result = grad_cam_signal_fraction(run, held_out, target, max_events=n_events, method=method,
                                                      layer=layer, control=True, reference=reference)
                    cells += [f"{result.median:.2f}", f"{result.control_median:.2f}"]
                    chance = result.median_area
                lines.append(f"| {layer_label}, {method}, {reference} | " + " | ".join(cells) + f" | {chance:.2f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--events", type=int, default=300, help="Held-out events for the criteria.")
    parser.add_argument("--method", default="gradcam", choices=["gradcam", "hirescam"])
    parser.add_argument("--reference", default="none", choices=list(REFERENCES),
                        help="Grad-CAM reference of the sweep comparison (the control table shows both).")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="Override applied to both models' configs (repeatable).")
    parser.add_argument("--run", type=Path, help="Only the control table of this trained run (no training).")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/showerlearn_explain_criteria"))
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "explain_criteria")
    args = parser.parse_args()
    quiet_libraries()
    held_out = args.work_dir / "held_out.dl1.h5"
    if not held_out.is_file():
        simulate_iact(IACTSimulationConfig(n_events=4 * args.events, gamma_source="diffuse"), held_out, seed=1000, n_jobs=2)
    header = [f"Command: `{command_line()}`", ""]
    control_intro = [
        "## Mass on the true signal: trained network against the same network with random weights",
        "",
        "Median over well-reconstructed gammas (true gammas with gammaness >= 0.5 and >= 50 true p.e.) of the "
        "fraction of the map's mass on the true signal region; chance level: the region's share of the camera.",
        "",
    ]
    if args.run is not None:
        metrics = RunDir.existing(args.run).metrics()["scalars"]
        lines = ["# Explanation sanity check of one run", "", *header,
                 f"Run `{args.run.name}` ({load_config(args.run / 'config.yaml').name}, test AUC {metrics['auc']:.3f}), "
                 f"{args.events} held-out simulated events.", "", *control_intro,
                 *control_table(args.run, held_out, args.events)]
        args.output.mkdir(parents=True, exist_ok=True)
        write_text_atomic(args.output / "control_one_run.md", "\n".join(lines) + "\n")
        shutil.copy(args.run / "config.yaml", args.output / "control_one_run_config.yaml")
        print("\n".join(lines))
        return
    sweeps = {}
    for label, path in MODELS.items():
        config = load_config(path, [f"output_dir={args.work_dir / 'runs'}", *args.overrides])
        sweeps[label] = sweep(config, args.seeds)
    document = write_explanations(
        sweeps["gamma-PhysNet-DA"], held_out, [0, 1, 2], None, None, compare=[sweeps["gamma-PhysNet"]],
        max_events=args.events, settings=CriteriaSettings(), method=args.method, reference=args.reference,
    )

    lines = [
        "# Explanation criteria: gamma-PhysNet with and without Dual Attention",
        "",
        *header,
        f"{args.seeds} seeds per model ({', '.join(str(p.relative_to(ROOT)) for p in MODELS.values())}), "
        f"{args.events} held-out simulated events, method {args.method}, reference {args.reference}.",
        "",
        "## Class score (gamma logit): Grad-CAM mass on the true signal, well-reconstructed gammas",
        "",
        "Well reconstructed: true gammas with gammaness >= 0.5 and >= 50 true p.e. Chance level: the signal "
        "region's share of the camera.",
        "",
        "| model | seed | test AUC | events | median fraction on signal | same, random weights | chance level |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, folder in sweeps.items():
        for run in sweep_runs(folder):
            result = grad_cam_signal_fraction(run, held_out, max_events=args.events, method=args.method, control=True,
                                              reference=args.reference)
            auc = run.metrics()["scalars"]["auc"]
            lines.append(f"| {label} | {run.path.name} | {auc:.3f} | {int(result.well_reconstructed.sum())} | "
                         f"{result.median:.3f} | {result.control_median:.3f} | {result.median_area:.3f} |")
    first = sweep_runs(sweeps["gamma-PhysNet-DA"])[0].path
    lines += ["", *control_intro, f"gamma-PhysNet-DA, `{first.name}`:", "", *control_table(first, held_out, args.events)]
    criteria_folder = sweeps["gamma-PhysNet-DA"] / CRITERIA_FOLDER
    lines += ["", "## Criteria table (`showerlearn explain`)", "", (criteria_folder / "criteria.md").read_text()]
    args.output.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.output / "explain_criteria.md", "\n".join(lines) + "\n")
    figures = sorted((sweeps["gamma-PhysNet-DA"] / EXPLAIN_FOLDER).glob("*.png"))
    for path in [criteria_folder / "criteria.json", *figures]:
        shutil.copy(path, args.output / path.name)
    print("\n".join(lines))
    print(f"models explained: {', '.join(document['models'])}; written to {args.output}")


if __name__ == "__main__":
    main()
