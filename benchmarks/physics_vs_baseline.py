"""gamma-PhysNet-DA against the Hillas + random-forest baseline on the same simulated LST test set.

Both are trained through the engine (`showerlearn train` path) on one simulated data set (fixed seed,
same cuts, same split), then compared per true-energy bin: AUC, angular and energy resolution (68 %
containment). Writes a markdown table and overlay figures.

    python benchmarks/physics_vs_baseline.py                        # reduced CPU network, ~1.3 h on 2 cores
    python benchmarks/physics_vs_baseline.py --preset gpu --events 150000 --jobs 16 --parallel
                                                                    # ResNet-56 on a GPU, baseline alongside
    python benchmarks/physics_vs_baseline.py --preset full          # the paper recipe as shipped (GPU)
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch
from _compare import acceptance_lines, check_same_test_set, comparison_lines, test_set_differences
from _machine import command_line

from showerlearn.iact.baselines import LSTCHAIN_CLEANING
from showerlearn.cli.common import quiet_libraries
from showerlearn.config import ExperimentConfig, load_config
from showerlearn.engine.ensemble import ensemble_members
from showerlearn.engine.run_dir import RunDir
from showerlearn.engine.runner import build_datamodule, train
from showerlearn.evaluation.aggregate import plot_aggregates
from showerlearn.iact.family import FAMILY
from showerlearn.io.atomic import write_text_atomic

ROOT = Path(__file__).resolve().parents[1]
NETWORK = ROOT / "examples" / "gamma_physnet_da.yaml"
BASELINE = ROOT / "examples" / "hillas_rf_small.yaml"
#: overrides of examples/gamma_physnet_da.yaml per preset, and how the output describes them
PRESETS = {
    # What fits ~1 h of training on 2 cores (7 epochs of the ~120,000 training images of 260,000 events,
    # compiled): the paper's widths at depth 8, the pooled class head, the image moments and the axis (disp)
    # direction head, linear charges, images held in memory; the whole image with the cleaning mask as a
    # channel (the moments weigh the cleaned pixels only), training events drawn with energy weights that
    # flatten the spectrum halfway; the learning rate / 10 after epoch 5, the time cap a safety net.
    "cpu": (
        "REDUCED CPU configuration: depth 8 (not 56), pooled class head, image moments and axis direction "
        "head, linear charges, whole image with the cleaning mask as a channel, energy-weighted sampling "
        "(flatten 0.5), 7 epochs (not 25), lr / 10 after epoch 5, at most 1.5 h of training",
        ["model.params.depth=8", "model.params.local_head=light", "model.params.particle_head=pool",
         "model.params.direction_head=axis", "model.params.image_moments=true", "data.params.cleaning.as=channel",
         "data.params.energy_sampling.flatten=0.5",
         "data.params.transforms.charge=scale", "data.params.in_memory=true", "trainer.max_epochs=7",
         "scheduler.params.step_size=5", "trainer.max_time=00:01:30:00", "trainer.accelerator=cpu",
         "trainer.devices=1", "trainer.threads=2", "trainer.compile=true"],
    ),
    # The paper's ResNet-56 network and optimiser with batches of 256 (a GPU runs them 4x faster than
    # batches of 64) and a shortened schedule that fits a 10-minute job on one H100.
    "gpu": (
        "ResNet-56 gamma-PhysNet-DA (paper network and optimiser), batch 256, 8 epochs, lr / 10 after epoch 5",
        ["data.params.batch_size=256", "trainer.max_epochs=8", "scheduler.params.step_size=5",
         "trainer.accelerator=gpu", "trainer.devices=1", "trainer.deterministic=false",
         "trainer.checkpoint_every_n_steps=null"],
    ),
    "full": ("paper recipe (ResNet-56, batch 64, 25 epochs)", []),
}


def _train_run(config: ExperimentConfig) -> Path:
    return train(config).path


def _describe(run: RunDir) -> str:
    """What a finished network run (or ensemble of runs) was: from its config and logs, not from a preset."""
    if run.is_ensemble():
        members = ensemble_members(run.path)
        return f"ensemble (averaged predictions) of {len(members)} runs: " + "; ".join(_describe(m) for m in members)
    config = load_config(run.config_file)
    if config.estimator is not None:
        return f"{config.estimator.name} run `{run.path.name}`"
    model = config.model.params if config.model else {}
    epochs = set()
    for log in run.logs.glob("csv/attempt_*/metrics.csv"):
        with log.open() as handle:
            epochs |= {int(row["epoch"]) for row in csv.DictReader(handle) if row.get("val/loss")}
    return (
        f"{config.model.name if config.model else '?'} run `{run.path.name}`: depth {model.get('depth', 56)}, widths "
        f"{model.get('widths', [16, 32, 64])}, {model.get('local_head', 'full')} local head, batch "
        f"{config.data.params.get('batch_size')}, {len(epochs)} validated epochs of {config.trainer.max_epochs} "
        f"(max_time {config.trainer.max_time}), {_training_time(run)} on {config.trainer.accelerator}"
    )


def _training_time(run: RunDir) -> str:
    """The training clock of Lightning's Timer (kept across attempts in the checkpoint) if the run had a
    max_time; else run.json's wall time of train, predict and evaluate."""
    last = run.checkpoints / "last.ckpt"
    if last.is_file():
        timer = torch.load(last, map_location="cpu", weights_only=False)["callbacks"].get("Timer")
        if timer:
            attempts = run.status().get("attempts", 1)
            return f"{timer['time_elapsed']['train']:.0f} s of training over {attempts} attempt(s)"
    return f"{run.status().get('train_seconds')} s wall (train, predict, evaluate)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=260000,
                        help="Simulated triggered events, all splits (260,000: ~100,000 training images after cuts).")
    parser.add_argument("--seed", type=int, default=1, help="Seed of the simulation and of both trainings.")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu", help="Network configuration.")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="Further override of the network config (repeatable).")
    parser.add_argument("--jobs", type=int, default=2,
                        help="Processes for the simulation, the data loaders and the random forests.")
    parser.add_argument("--parallel", action="store_true",
                        help="Train the baseline in a second process while the network trains.")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "physics_vs_baseline")
    parser.add_argument("--runs", type=Path, nargs=2, metavar=("NETWORK_RUN", "BASELINE_RUN"),
                        help="Only re-render the comparison of two finished run directories.")
    parser.add_argument("--more-seeds", type=Path, nargs="+", default=[], metavar="NETWORK_RUN",
                        help="With --runs: networks trained with other seeds on the same test set, for the acceptance table.")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/showerlearn_bench_cache"), help="Simulated files.")
    args = parser.parse_args()
    quiet_libraries()
    workers = max(args.jobs - 2, 0)  # the training process and its GPU feeder keep two cores
    data = [
        f"seed={args.seed}", f"output_dir={args.output / 'runs'}", f"data.params.cache_dir={args.cache}",
        f"data.params.simulate.events={args.events}", f"data.params.simulate.seed={args.seed}",
        f"data.params.simulate.n_jobs={args.jobs}", "data.params.simulate.config={gamma_source: diffuse}",
        f"data.params.num_workers={workers}",
        # both see lstchain's standard cleaning, which also defines the selection's intensity
        *(f"data.params.cleaning.{key}={value}" for key, value in LSTCHAIN_CLEANING.model_dump(exclude={"as_"}).items()),
    ]
    description, preset = PRESETS[args.preset]
    if args.overrides:
        description += "; with " + ", ".join(args.overrides)
    if args.more_seeds and not args.runs:
        raise SystemExit("--more-seeds goes with --runs")
    more_seeds = [RunDir.existing(path) for path in args.more_seeds]
    if args.runs:
        network, baseline = (RunDir.existing(path) for path in args.runs)
        for run in (network, *more_seeds):
            check_same_test_set(run, baseline)
        description = _describe(network)
    else:
        network_config = load_config(NETWORK, data + preset + args.overrides)
        baseline_config = load_config(BASELINE, data + [f"estimator.params.n_jobs={max(args.jobs // 2, 1)}"])
        if differences := test_set_differences(network_config, baseline_config):
            raise SystemExit(f"--set would give the network another test set than the baseline: {', '.join(differences)}")
        build_datamodule(network_config).resolve_files()  # simulate once, before two processes want the file
        if args.parallel:
            # executor workers (unlike Pool's) are not daemons, so the baseline may start loader processes
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as executor:
                baseline_path = executor.submit(_train_run, baseline_config)
                network = RunDir.existing(_train_run(network_config))
                baseline = RunDir.existing(baseline_path.result())
        else:
            network = RunDir.existing(_train_run(network_config))
            baseline = RunDir.existing(_train_run(baseline_config))
    ours, theirs = network.metrics(), baseline.metrics()

    lines = [
        "# gamma-PhysNet-DA vs Hillas + RF (same simulated test set)",
        "",
        f"Command: `{command_line()}`",
        "",
        f"Network: {description}.",
        f"Test set: {ours['scalars']['n_gamma']} gammas, {ours['scalars']['n_proton']} protons.",
        "",
    ]
    table, _ = comparison_lines(ours, theirs, "gamma-PhysNet-DA", "Hillas + RF")
    lines += table
    seeds = {f"{load_config(run.config_file).seed}": run.metrics() for run in (network, *more_seeds)}
    lines += ["", *acceptance_lines(seeds, theirs, "Hillas + RF")]
    args.output.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.output / "physics_vs_baseline.md", "\n".join(lines) + "\n")
    plot_aggregates(
        {"gamma-PhysNet-DA": ours}, args.output, baseline=theirs, baseline_label="Hillas + RF", style=FAMILY.board_style()
    )
    print("\n".join(lines))
    print(f"\nwritten: {args.output / 'physics_vs_baseline.md'} and figures in {args.output}")


if __name__ == "__main__":
    main()
