"""Issue 23: is there anything left between the two streams for cross-attention to find?

The multi-scale transformer's argument is that a network must read both streams together. This asks how much
reading them together is worth at all: each repeat's single-stream networks (constituents only, objects only)
are combined after training, on that repeat's test split, by a logistic regression on their two logits and by
gradient-boosted trees on the two logits (a flexible function of them), each fitted and scored in 5-fold
cross-validation. Neither sees a token of the other stream. The networks trained on both streams (concatenation,
cross-attention) are compared with these fusions on the same events; the gain above them bounds from below what
one network reading both streams adds (it also holds the differences between training one network and two).

    python benchmarks/collider_late_fusion.py --workdir .showerlearn_cache/collider_benchmark_m450 \\
        --output benchmarks/results/collider_m450/late_fusion.md

``--workdir``: a finished ``collider_benchmark.py`` work folder with the sweeps of ``constituents``,
``objects`` and the joint models (its ``benchmark_sweeps.json``, whose folders are relative to where that
benchmark ran: the repository root); the repeats share their splits across models. Binary classification only.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from scipy.special import logit
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from showerlearn.engine.sweep import sweep_runs
from showerlearn.io.atomic import write_text_atomic
from showerlearn.io.tables import read_tables

STATE_FILE = "benchmark_sweeps.json"
SINGLE = ("constituents", "objects")
JOINT = {"concat": "two-stream concatenation", "multiscale": "multi-scale cross-attention"}
ROOT = Path(__file__).resolve().parent.parent
#: a score of exactly 0 or 1 would have an infinite logit
CLIP = 1e-12


def fused_scores(first: np.ndarray, second: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """Out-of-fold scores of two classifiers' scores combined: ``linear`` (logistic regression on their logits)
    and ``any`` (gradient-boosted trees on them), 5-fold stratified cross-validation: each event is scored by a
    combiner fitted on the other folds."""
    features = logit(np.clip(np.column_stack([first, second]), CLIP, 1.0 - CLIP))
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    return {
        "linear": cross_val_predict(LogisticRegression(), features, labels, cv=folds, method="predict_proba")[:, 1],
        "any": cross_val_predict(HistGradientBoostingClassifier(max_iter=200, random_state=seed), features, labels,
                                 cv=folds, method="predict_proba")[:, 1],
    }  # fmt: skip


def repeat_scores(folder: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """Repeat (``seed<k>``) -> its test-split predictions, ordered by (file, event) so models line up."""
    out = {}
    for run in sweep_runs(folder):
        table = read_tables(run.predictions_file)["predictions"]
        if "score" not in table:
            raise ValueError(f"{run.predictions_file}: no binary 'score' column (columns {sorted(table)}): binary classification only")
        order = np.lexsort((table["event"], table["file_index"]))
        out[run.path.name] = {name: values[order] for name, values in table.items()}
    return out


def fusion_aucs(predictions: Mapping[str, Mapping[str, Mapping[str, np.ndarray]]]) -> tuple[list[str], dict[str, list[float]]]:
    """The repeats all of ``predictions``' models have, and per model (and the two fusions) the AUC of each."""
    repeats = sorted(set.intersection(*(set(p) for p in predictions.values())), key=lambda name: int(name[4:]))
    if len(repeats) < 2:
        raise ValueError(f"the models share {len(repeats)} completed repeat(s) ({', '.join(repeats) or 'none'}): a spread needs 2")
    aucs: dict[str, list[float]] = {name: [] for name in (*predictions, "linear", "any")}
    for repeat in repeats:
        tables = {model: predictions[model][repeat] for model in predictions}
        reference = tables[SINGLE[0]]
        for model, table in tables.items():
            if not (np.array_equal(table["event"], reference["event"]) and np.array_equal(table["file_index"], reference["file_index"])):
                raise ValueError(f"{repeat}: {model} was tested on other events than {SINGLE[0]}")
            aucs[model].append(roc_auc_score(table["label"], table["score"]))
        labels = reference["label"]
        fused = fused_scores(tables[SINGLE[0]]["score"], tables[SINGLE[1]]["score"], labels, seed=int(repeat[4:]))
        for name, scores in fused.items():
            aucs[name].append(roc_auc_score(labels, scores))
    return repeats, aucs


def markdown(repeats: Sequence[str], aucs: Mapping[str, Sequence[float]], command: str) -> str:
    """The table of AUCs and the paired differences of the joint models against the trees' fusion."""
    labels = {"constituents": "constituents only", "objects": "objects only",
              "linear": "late fusion: logistic regression on the two logits",
              "any": "late fusion: gradient-boosted trees on the two logits", **JOINT}  # fmt: skip
    order = [m for m in ("constituents", "objects", "linear", "any", *JOINT) if m in aucs]
    rows = ["| model | AUC (mean ± std) | per repeat |", "|---|---:|---|"]
    for name in order:
        values = np.asarray(aucs[name])
        rows.append(f"| {labels[name]} | {values.mean():.4f} ± {values.std(ddof=1):.4f} | "
                    + ", ".join(f"{v:.4f}" for v in values) + " |")
    paired = ["| joint model minus late fusion (trees) | paired ΔAUC (mean ± std) |", "|---|---:|"]
    for name in (m for m in JOINT if m in aucs):
        difference = np.asarray(aucs[name]) - np.asarray(aucs["any"])
        paired.append(f"| {JOINT[name]} | {difference.mean():+.4f} ± {difference.std(ddof=1):.4f} |")
    return "\n".join([
        "# Late fusion of the single-stream networks against the joint ones (issue 23)", "",
        f"Command: `{command}`", "",
        "Each repeat's constituents-only and objects-only networks, combined after training on that repeat's test "
        "split (5-fold cross-validation: each event scored by a combiner fitted on the other folds). Neither "
        "combiner sees a token of the other stream. The joint networks are compared with them on the same events, "
        f"repeats {', '.join(repeats)}.", "",
        *rows, "", *paired, "",
    ])  # fmt: skip


def _sweep_folder(stored: str) -> Path:
    """A sweep folder of the state file: as stored (absolute, or relative to here), else relative to the repository."""
    for folder in (Path(stored), ROOT / stored):
        if folder.is_dir():
            return folder
    raise SystemExit(f"sweep folder {stored} not found here nor under {ROOT}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, required=True, help="a finished collider_benchmark.py work folder")
    parser.add_argument("--output", type=Path, required=True, help="the markdown table to write")
    args = parser.parse_args()
    state_file = args.workdir / STATE_FILE
    if not state_file.is_file():
        parser.error(f"{state_file}: no benchmark state: is --workdir a collider_benchmark.py work folder?")
    state = json.loads(state_file.read_text())
    missing = [m for m in SINGLE if m not in state]
    if missing:
        parser.error(f"{state_file}: no finished sweep of {missing}")
    models = [*SINGLE, *(m for m in JOINT if m in state)]
    predictions = {model: repeat_scores(_sweep_folder(state[model]["folder"])) for model in models}
    text = markdown(*fusion_aucs(predictions), shlex.join(["python", *sys.argv]))
    write_text_atomic(args.output, text)
    print(text)


if __name__ == "__main__":
    main()
