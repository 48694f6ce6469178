"""Acceptance benchmark of issue 23: every collider model over N repeats (each repeat its own training seed
and its own train / val / test split) on one generated event file; table of AUC, background rejection
at 30 % and 50 % signal efficiency and significance (mean +- std), paired AUC differences against the
multi-scale transformer, and the ROC band figure.

Events (the acceptance run of issue 23: 100k selected at a heavy scalar of 450 GeV out of 645k Pythia
events, about 180 generated events/s on 2 cores; the 600 GeV run of benchmarks/results/collider/ had 400k)::

    showerlearn simulate collider --config benchmarks/configs/collider_events_m600.yaml --signal-mass 450 \\
        --events 100000 --seed 1 --jobs 2 --cache CACHE --output collider_m450_100k.h5

Benchmark (the models are the example configs, examples/collider_<model>.yaml, on that file; the exact
commands of the committed tables are in benchmarks/results/collider_m450/README.md)::

    python benchmarks/collider_benchmark.py --events collider_m450_100k.h5 --repeats 5 --jobs 2 \\
        --split "0.25, 0.05, 0.7" --pairwise all --workdir /tmp/collider_benchmark \\
        --output benchmarks/results/collider_m450/pairwise \\
        --explain collider_m450_explain.h5   # 2000 events of --seed 2: mean attention and Grad-CAM maps

Every model runs with :data:`COMMON` and its :data:`OWN` settings: the object tokens without the b-tag
(with it the objects alone saturate), 6 epochs, and the ``--split`` fractions (default 50 / 10 / 40 %). A
model whose sweep finished is not trained again (``--workdir`` keeps them), and a sweep stopped mid-way (a
session's end, a crash) continues where it stopped: its completed repeats are kept, a started one resumes
from its last checkpoint. ``--report-only`` redraws the table and figure from the finished sweeps. ``--pairwise
cross`` gives the multi-scale transformer's cross-attention Particle-Transformer pair features, ``--pairwise all``
every transformer's attention too (:data:`PAIRWISE`). Settings given with ``--set`` apply
to every model, after those.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from showerlearn.collider.baselines.features import HIGH_LEVEL_FEATURES
from showerlearn.config import load_config
from showerlearn.engine.sweep import AGGREGATE_FILE, sweep, sweep_runs

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
#: model key -> (example config, label); the first is the reference of the paired comparisons
MODELS: dict[str, tuple[str, str]] = {
    "multiscale": ("collider_multiscale.yaml", "multi-scale cross-attention"),
    "concat": ("collider_concat.yaml", "two-stream concatenation"),
    "one_scale": ("collider_one_scale.yaml", "one-scale transformer"),
    "constituents": ("collider_constituents.yaml", "constituents only"),
    "objects": ("collider_objects.yaml", "objects only"),
    "mlp": ("collider_mlp.yaml", "kinematics MLP"),
    "bdt": ("collider_bdt.yaml", "BDT, high-level features"),
}
REFERENCE = "multiscale"
#: object features without the b-tag: with it the objects alone reach an AUC of 0.97 at 600 GeV (a BDT on
#: the high-level features 0.977, without b-tags 0.906; 20k events), so the streams are compared without it
OBJECTS_WITHOUT_BTAG = "[log_pt, eta, dphi_lead, log_mass, tau21, tau32, charge, is_met, is_fatjet, is_jet, is_electron, is_muon]"
#: settings of every model (besides the split): 6 epochs with a cosine schedule
COMMON = [f"data.params.objects.features={OBJECTS_WITHOUT_BTAG}", "trainer.max_epochs=6"]
#: settings of one model
OWN = {
    "bdt": ["estimator.params.features=[" + ", ".join(n for n in HIGH_LEVEL_FEATURES if "btag" not in n) + "]"],
    **{model: ["scheduler.params.T_max=6"] for model in ("multiscale", "concat", "one_scale", "constituents", "objects", "mlp")},
}
#: ``--pairwise``: Particle-Transformer pair features; ``cross``: in the multi-scale transformer's cross-attention
#: only (the other models as in the examples); ``all``: also in the self-attention of every transformer (of the
#: union for the one-scale one, so between the streams too)
_PAIR_INPUTS, _SELF_PAIRS, _CROSS_PAIRS = (
    "data.params.pair_inputs=true", "model.params.pair_features=true", "model.params.cross_pair_features=true")
PAIRWISE: dict[str, dict[str, list[str]]] = {
    "none": {},
    "cross": {"multiscale": [_PAIR_INPUTS, _CROSS_PAIRS]},
    "all": {
        **{model: [_PAIR_INPUTS, _SELF_PAIRS] for model in ("concat", "one_scale", "constituents", "objects")},
        "multiscale": [_PAIR_INPUTS, _SELF_PAIRS, _CROSS_PAIRS],
    },
}
#: the comparisons the acceptance asks for
ACCEPTANCE = ("concat", "one_scale", "constituents", "objects")
SCALARS = (
    ("auc", "AUC", "{:.4f}"),
    ("background_rejection_at_30", "1/ε_B at ε_S = 30 %", "{:.0f}"),
    ("background_rejection_at_50", "1/ε_B at ε_S = 50 %", "{:.0f}"),
    ("significance_at_30", "Z at ε_S = 30 % (3 ab⁻¹)", "{:.3f}"),
    ("significance_at_50", "Z at ε_S = 50 % (3 ab⁻¹)", "{:.3f}"),
)
STATE_FILE = "benchmark_sweeps.json"


def _config(model: str, events: Path, workdir: Path, split: str, overrides: list[str], pairwise: str) -> Any:
    example, _ = MODELS[model]
    return load_config(
        EXAMPLES / example,
        [
            f"data.params.source={{kind: generated, files: [{events.resolve()}]}}",
            f"output_dir={workdir}",
            f"name=benchmark_{model}",
            *COMMON,
            f"data.params.split.fractions=[{split}]",
            *OWN.get(model, []),
            *PAIRWISE[pairwise].get(model, []),
            *overrides,
        ],
    )


def run_sweeps(
    models: list[str], events: Path, workdir: Path, repeats: int, jobs: int, split: str, overrides: list[str],
    pairwise: str = "none",
) -> dict[str, str]:
    """Train the sweep of each model not yet finished, continuing one stopped mid-way; returns model -> sweep
    folder (also kept in the state file)."""
    state_path = workdir / STATE_FILE
    state = json.loads(state_path.read_text()) if state_path.is_file() else {}
    for model in models:
        config = _config(model, events, workdir, split, overrides, pairwise)
        if model in state and (Path(state[model]["folder"]) / AGGREGATE_FILE).is_file():
            _check_pair_settings(model, state[model]["folder"], config)
            print(f"{model}: finished earlier ({state[model]['folder']})", flush=True)
            continue
        started = time.time()
        print(f"{model}: {repeats} repeats, {jobs} in parallel", flush=True)
        stopped = _stopped_sweep(config)
        if stopped is not None:
            print(f"{model}: continuing {stopped}", flush=True)
        folder = sweep(config, repeats, jobs=jobs, progress=False, resume=stopped)
        state[model] = {"folder": str(folder), "seconds": round(time.time() - started, 1)}
        state_path.write_text(json.dumps(state, indent=2))
        print(f"{model}: done in {state[model]['seconds']:.0f} s: {folder}", flush=True)
    return {model: entry["folder"] for model, entry in state.items()}


def _pair_settings(config: Any) -> list[str]:
    """What a model's network reads of Particle-Transformer pair features (none for an estimator)."""
    params = config.model.params if config.model is not None else {}
    return [text for key, text in (("pair_features", "pair features"), ("cross_pair_features", "cross-stream pairs"))
            if params.get(key)]  # fmt: skip


def _sweep_config(folder: str) -> Any:
    return load_config(sweep_runs(folder)[0].config_file)


def _check_pair_settings(model: str, folder: str, config: Any) -> None:
    """A finished sweep is reused only if its networks read the pair features this run asks for (``--pairwise``)."""
    done, asked = _pair_settings(_sweep_config(folder)), _pair_settings(config)
    if done != asked:
        raise SystemExit(
            f"{model}: the finished sweep {folder} was trained with pair settings {done or 'none'}, this run asks for "
            f"{asked or 'none'} (--pairwise): give this run another --workdir"
        )


def label(model: str, folder: str) -> str:
    """The model's name in the tables and figure, with the pair features its sweep's networks read."""
    extra = _pair_settings(_sweep_config(folder))
    return MODELS[model][1] + (f" + {' and '.join(extra)}" if extra else "")


def _stopped_sweep(config: Any) -> Path | None:
    """The newest sweep folder of this model without an aggregate (stopped before its end), if any."""
    stopped = [f for f in sorted((config.output_dir / config.name).glob("sweep-*")) if not (f / AGGREGATE_FILE).is_file()]
    return stopped[-1] if stopped else None


def _mean_std(values: list[float | None]) -> tuple[float, float]:
    finite = np.array([v for v in values if v is not None], dtype=float)
    if finite.size == 0:
        return np.nan, np.nan
    return float(finite.mean()), float(finite.std(ddof=1)) if finite.size > 1 else np.nan


def _seeded_metrics(folder: str) -> dict[str, dict[str, Any]]:
    """Run folder name (``seed<k>``: the same split for every model) -> metrics."""
    return {run.path.name: run.metrics() for run in sweep_runs(folder)}


def table(sweeps: dict[str, str], labels: dict[str, str]) -> tuple[list[str], dict[str, dict[str, tuple[float, float]]]]:
    """Markdown rows of mean +- std per model, and the numbers behind them."""
    numbers: dict[str, dict[str, tuple[float, float]]] = {}
    rows = ["| model | repeats | " + " | ".join(label for _, label, _ in SCALARS) + " |", "|---|---:|" + "---:|" * len(SCALARS)]
    for model, folder in sweeps.items():
        aggregate = json.loads((Path(folder) / AGGREGATE_FILE).read_text())
        numbers[model] = {name: _mean_std(aggregate["scalars"][name]["values"]) for name, _, _ in SCALARS}
        cells = [f"{fmt.format(m)} ± {fmt.format(s)}" if np.isfinite(m) else "—" for (name, _, fmt), (m, s) in
                 ((spec, numbers[model][spec[0]]) for spec in SCALARS)]  # fmt: skip
        rows.append(f"| {labels[model]} | {aggregate['n_runs']} | " + " | ".join(cells) + " |")
    return rows, numbers


def paired_differences(sweeps: dict[str, str], labels: dict[str, str]) -> list[str]:
    """AUC of the reference minus each model's, seed by seed (the repeats share their splits across models)."""
    if REFERENCE not in sweeps:
        return []
    reference = _seeded_metrics(sweeps[REFERENCE])
    rows = [
        "| compared with | paired ΔAUC (mean ± std) | per repeat | spread (larger std of the two) | ΔAUC > spread |",
        "|---|---:|---|---:|:---:|",
    ]
    for model, folder in sweeps.items():
        if model == REFERENCE:
            continue
        other = _seeded_metrics(folder)
        common = [repeat for repeat in reference if repeat in other]  # in the sweep's order of seeds
        deltas = np.array([reference[s]["scalars"]["auc"] - other[s]["scalars"]["auc"] for s in common])
        spread = max(np.std([reference[s]["scalars"]["auc"] for s in common], ddof=1),
                     np.std([other[s]["scalars"]["auc"] for s in common], ddof=1))  # fmt: skip
        verdict = "yes" if deltas.mean() > spread else "no"
        rows.append(
            f"| {labels[model]} | {deltas.mean():+.4f} ± {deltas.std(ddof=1):.4f} | "
            + ", ".join(f"{d:+.4f}" for d in deltas) + f" | {spread:.4f} | {verdict} |"
        )
    return rows


def roc_band_figure(sweeps: dict[str, str], labels: dict[str, str], output: Path) -> list[Path]:
    """Background rejection against signal efficiency: mean over the repeats with a +-std band; below, each
    model's rejection over the reference model's, repeat by repeat (they share their splits), mean +- std: where
    differences of a few 0.001 in AUC show."""
    from showerlearn.viz.figures import new_figure, save_figure

    grid = np.linspace(0.05, 1.0, 96)
    figure = new_figure(7.0, 7.0)
    ax, ratio = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.4]})
    curves = {model: _rejection_curves(folder, grid) for model, folder in sweeps.items()}
    reference = curves[REFERENCE] if REFERENCE in curves else None
    for model, per_repeat in curves.items():
        mean, std = _mean_std_curve(list(per_repeat.values()))
        line = ax.plot(grid, mean, label=f"{labels[model]} ({len(per_repeat)} repeats)", linewidth=1.3)[0]
        ax.fill_between(grid, np.clip(mean - std, 1.0, None), mean + std, color=line.get_color(), alpha=0.25, linewidth=0)
        if reference is not None:
            common = [repeat for repeat in per_repeat if repeat in reference]
            mean, std = _mean_std_curve([per_repeat[k] / reference[k] for k in common])
            ratio.plot(grid, mean, color=line.get_color(), linewidth=1.3)
            ratio.fill_between(grid, mean - std, mean + std, color=line.get_color(), alpha=0.25, linewidth=0)
    ax.set_yscale("log")
    ax.set_ylabel("background rejection 1/ε_B")
    ax.set_title("ROC: mean ± std over repeats (seeds and splits)")
    ax.legend(fontsize="small")
    ratio.set_ylim(0.3, 1.2)
    ratio.set_xlabel("signal efficiency ε_S")
    ratio.set_ylabel("1/ε_B over the multi-scale\nmodel's, paired by repeat")
    for axis in (ax, ratio):
        axis.grid(True, which="both", alpha=0.3)
    return save_figure(figure, output / "roc_bands")


def _rejection_curves(folder: str, grid: np.ndarray) -> dict[str, np.ndarray]:
    """Each repeat's background rejection at the signal efficiencies ``grid`` (NaN where no background is kept)."""
    curves = {}
    for repeat, metrics in _seeded_metrics(folder).items():
        fpr, tpr = np.asarray(metrics["roc"]["fpr"], float), np.asarray(metrics["roc"]["tpr"], float)
        with np.errstate(divide="ignore"):
            rejection = 1.0 / np.interp(grid, tpr, fpr)
        curves[repeat] = np.where(np.isfinite(rejection), rejection, np.nan)
    return curves


def _mean_std_curve(curves: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    with warnings.catch_warnings():
        # a signal efficiency where at most one repeat keeps any background has no mean or no spread: NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(curves, axis=0), np.nanstd(curves, axis=0, ddof=1)


def _split_text(sweeps: dict[str, str]) -> str:
    """The train / val / test fractions of the runs, as a percentage text."""
    run = sweep_runs(next(iter(sweeps.values())))[0]
    fractions = load_config(run.config_file).data.params["split"]["fractions"]
    return " / ".join(f"{100 * f:g}" for f in fractions) + " %"


def _training_seconds(folder: str) -> float:
    """Wall time of every run of a sweep, all its attempts included, summed."""
    return sum(run.status().get("train_seconds", 0.0) for run in sweep_runs(folder))


def report(sweeps: dict[str, str], output: Path, events: Path | None, command: str) -> Path:
    output.mkdir(parents=True, exist_ok=True)
    labels = {model: label(model, folder) for model, folder in sweeps.items()}  # each reads its sweep's config once
    rows, numbers = table(sweeps, labels)
    figures = roc_band_figure(sweeps, labels, output)
    reference = labels.get(REFERENCE, MODELS[REFERENCE][1])
    lines = [
        "# Collider benchmark: multi-scale cross-attention transformer and its comparisons (issue 23)",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, CPU only. Command:",
        "",
        f"    {command}",
        "",
        f"Events: `{events}`" if events else "",
        "",
        "Each model is trained once per repeat k (experiment seed k: its initialisation, batch order and its own "
        f"train / val / test split, {_split_text(sweeps)}); repeat k has the same split for every model. Settings of "
        f"every model: `{'`, `'.join(COMMON)}`; the examples' networks otherwise (examples/collider_*.yaml). Values are the "
        "mean ± sample standard deviation over the repeats, on each repeat's test split. Significance: Asimov Z "
        "at 3000 fb⁻¹ with the events' cross-section weights (signal normalised to 10 fb, see the generator config).",
        "",
        *rows,
        "",
        f"## Paired AUC differences: {reference} minus each model",
        "",
        *paired_differences(sweeps, labels),
        "",
        "Training time per model (all repeats, summed over the runs, each run on one core): "
        + ", ".join(f"{labels[m]} {_training_seconds(sweeps[m]) / 60:.0f} min" for m in sweeps),
        "",
        f"ROC bands: `{figures[0].name}`.",
        "",
    ]
    path = output / "collider_benchmark.md"
    path.write_text("\n".join(lines))
    (output / "collider_benchmark.json").write_text(
        json.dumps({model: {k: list(v) for k, v in values.items()} for model, values in numbers.items()}, indent=2)
    )
    return path


def explain_reference(sweeps: dict[str, str], events: Path, output: Path, max_events: int) -> list[Path]:
    """Mean attention maps and Grad-CAM jet images of the reference model's first repeat on ``events`` (a file
    none of the repeats trained on), copied to ``output``."""
    import shutil

    from showerlearn.explain.report import write_explanations

    run = sweep_runs(sweeps[REFERENCE])[0]
    write_explanations(run.path, events, [0], ["label:1"], max_events=max_events, control=False)
    copied = []
    for figure in sorted((run.path / "plots" / "explain").glob("*.png")):
        if figure.name.startswith(("attention_", "gradcam_")):
            copied.append(Path(shutil.copy(figure, output / f"explain_{figure.name}")))
    return copied


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=Path, help="the generated event file")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2, help="repeats trained in parallel")
    parser.add_argument("--split", default="0.5, 0.1, 0.4", help="train, validation and test fractions of every repeat")
    parser.add_argument("--workdir", type=Path, required=True, help="where the sweeps go (and are found again)")
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/collider"))
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated, of: " + ", ".join(MODELS))
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config override for every model")
    parser.add_argument("--pairwise", choices=list(PAIRWISE), default="none", help="pair features in the multi-scale "
                        "transformer's cross-attention (cross), and in every transformer's self-attention too (all)")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--explain", type=Path, help="events of another seed: explain the reference model's first repeat")
    parser.add_argument("--explain-events", type=int, default=2000)
    args = parser.parse_args()
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        parser.error(f"unknown models {unknown}")
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.report_only:
        state = json.loads((args.workdir / STATE_FILE).read_text())
        sweeps = {m: state[m]["folder"] for m in MODELS if m in state}
    else:
        if args.events is None or not args.events.is_file():
            parser.error("--events: the generated event file is needed to train")
        sweeps = run_sweeps(
            models, args.events, args.workdir, args.repeats, args.jobs, args.split, args.overrides, args.pairwise
        )
        sweeps = {m: sweeps[m] for m in MODELS if m in sweeps}
    path = report(sweeps, args.output, args.events, shlex.join(["python", *sys.argv]))  # quoted: it can be pasted
    if args.explain is not None and REFERENCE in sweeps:
        for figure in explain_reference(sweeps, args.explain, args.output, args.explain_events):
            print(f"explanation: {figure}")
    print(path.read_text())


if __name__ == "__main__":
    main()
