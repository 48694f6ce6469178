"""Multi-class classification everywhere: one-vs-rest AUC and confusion matrices (against scikit-learn),
the classification evaluator, the tabular DataModule's columns, the validation head metrics, and a
three-class run through the engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from showerlearn.config import resolve_config
from showerlearn.data.tabular import TableSource, TabularDataModule
from showerlearn.engine.runner import train
from showerlearn.evaluation.classification import evaluate_classification
from showerlearn.metrics import classification as cls
from showerlearn.registry import HEAD_METRICS

CLASSES = ("electron", "muon", "pion")


def _predictions(n: int = 600, n_classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels and softmax scores of a classifier that is right more often than not."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, size=n)
    logits = rng.normal(size=(n, n_classes)) + 1.5 * np.eye(n_classes)[labels]
    scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return labels, scores


def test_one_vs_rest_auc_matches_scikit_learn() -> None:
    labels, scores = _predictions()
    per_class, macro = cls.one_vs_rest_auc(labels, scores)
    np.testing.assert_allclose(per_class, skm.roc_auc_score(labels, scores, multi_class="ovr", average=None))
    assert macro == pytest.approx(skm.roc_auc_score(labels, scores, multi_class="ovr", average="macro"))
    rocs = cls.one_vs_rest_roc(labels, scores)
    for k, roc in enumerate(rocs):
        assert skm.auc(roc.fpr, roc.tpr) == pytest.approx(per_class[k])


def test_a_class_without_events_has_no_auc_and_stays_out_of_the_mean() -> None:
    labels, scores = _predictions(n_classes=4)
    present = labels != 3
    per_class, macro = cls.one_vs_rest_auc(labels[present], scores[present])
    assert np.isnan(per_class[3])
    assert macro == pytest.approx(np.mean([skm.roc_auc_score(labels[present] == k, scores[present, k]) for k in range(3)]))
    with pytest.raises(ValueError, match=r"class indices in \[0, 4\)"):
        cls.one_vs_rest_auc(np.full(len(scores), 4), scores)


def test_confusion_matrix_matches_scikit_learn() -> None:
    labels, scores = _predictions(n_classes=4, seed=1)
    predicted = scores.argmax(axis=1)
    predicted[predicted == 2] = 1  # a class never predicted still has its column
    np.testing.assert_array_equal(
        cls.confusion_matrix(labels, predicted, 5), skm.confusion_matrix(labels, predicted, labels=range(5))
    )
    with pytest.raises(ValueError, match="predictions must be"):
        cls.confusion_matrix(labels, predicted + 4, 5)


def test_the_evaluator_reports_each_class_and_keeps_the_binary_report(tmp_path: Path) -> None:
    labels, scores = _predictions()
    columns = {"label": labels, **{f"score_{name}": scores[:, k] for k, name in enumerate(CLASSES)}}
    metrics = evaluate_classification(columns, tmp_path / "multi", figure_formats=("png",))
    scalars = metrics["scalars"]
    reference = skm.roc_auc_score(labels, scores, multi_class="ovr", average=None)
    assert [scalars[f"auc_{name}"] for name in CLASSES] == pytest.approx(reference)
    assert scalars["auc_macro"] == pytest.approx(reference.mean()) and scalars["n_classes"] == 3
    assert scalars["accuracy"] == pytest.approx(skm.accuracy_score(labels, scores.argmax(axis=1)))
    assert metrics["confusion_matrix"] == skm.confusion_matrix(labels, scores.argmax(axis=1)).tolist()
    assert set(metrics["roc_per_class"]) == set(CLASSES) and metrics["settings"] == {"classes": list(CLASSES)}
    assert metrics["figures"] == ["confusion_matrix.png", "roc.png"]

    binary = evaluate_classification({"label": labels == 1, "score": scores[:, 1]}, tmp_path / "binary", figure_formats=("png",))
    assert set(binary) == {"evaluator", "schema", "settings", "scalars", "curves", "roc", "caption", "figures"}
    assert set(binary["scalars"]) == {"n_events", "n_positive", "auc", "precision", "recall", "false_positive_rate"}
    assert binary["scalars"]["auc"] == pytest.approx(skm.roc_auc_score(labels == 1, scores[:, 1]))


def test_tabular_predictions_have_a_score_per_class_beyond_two(tmp_path: Path) -> None:
    path = tmp_path / "table.csv"
    path.write_text("a,kind\n" + "".join(f"{i},{CLASSES[i % 3]}\n" for i in range(30)))
    data = TabularDataModule(TableSource(path=path), features=["a"], label="kind")
    logits = np.random.default_rng(0).normal(size=(4, 3))
    decoded = data.decode_predictions({"label": logits}, {"row": np.arange(4), "label": np.array([0, 1, 2, 0])})
    assert list(decoded) == ["row", "label", *(f"score_{name}" for name in CLASSES)]
    expected = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
    np.testing.assert_allclose(np.stack([decoded[f"score_{name}"] for name in CLASSES], axis=1), expected)


def test_numeric_labels_are_integer_names_sorted_by_value_in_csv_and_hdf5_alike(tmp_path: Path) -> None:
    import h5py

    labels = np.array([10, 0, 2, 1, 10, 2, 0, 1, 2, 10] * 3)
    csv_path = tmp_path / "table.csv"
    csv_path.write_text("a,kind\n" + "".join(f"{i},{k}\n" for i, k in enumerate(labels)))
    h5_path = tmp_path / "table.h5"
    with h5py.File(h5_path, "w") as file:
        file["events/a"], file["events/kind"] = np.arange(len(labels), dtype=float), labels
    expected = ["0", "1", "2", "10"]  # by value, not as text ("0", "1", "10", "2")
    for path in (csv_path, h5_path):
        data = TabularDataModule(TableSource(path=path), features=["a"], label="kind")
        assert data.classes == expected, path
        np.testing.assert_array_equal(data.labels, [expected.index(str(k)) for k in labels])
    named = TabularDataModule(TableSource(path=csv_path), features=["a"], label="kind", classes=["10", "2", "1", "0"])
    np.testing.assert_array_equal(named.labels, [["10", "2", "1", "0"].index(str(k)) for k in labels])
    # configs written for earlier versions name them as the floats a CSV held: the same classes, by value
    earlier = TabularDataModule(TableSource(path=csv_path), features=["a"], label="kind", classes=["10.0", "2.0", "1.0", "0.0"])
    assert earlier.classes == ["10", "2", "1", "0"]
    np.testing.assert_array_equal(earlier.labels, named.labels)
    fractional = tmp_path / "fractional.csv"
    fractional.write_text("a,kind\n" + "".join(f"{i},{k}\n" for i, k in enumerate([0.5, 2, 0.5, 10] * 6)))
    assert TabularDataModule(TableSource(path=fractional), features=["a"], label="kind").classes == ["0.5", "2.0", "10.0"]


def test_an_ensemble_of_multi_class_tabular_runs_averages_each_class_score() -> None:
    labels, scores = _predictions(n=50)
    other = _predictions(n=50, seed=1)[1]
    tables = [
        {"row": np.arange(50), "label": labels, **{f"score_{name}": s[:, k] for k, name in enumerate(CLASSES)}}
        for s in (scores, other)
    ]
    averaged = TabularDataModule.average_predictions(tables, ["a", "b"])
    assert list(averaged) == ["row", "label", *(f"score_{name}" for name in CLASSES)]
    for k, name in enumerate(CLASSES):
        np.testing.assert_allclose(averaged[f"score_{name}"], (scores[:, k] + other[:, k]) / 2)
    binary = [{"row": np.arange(50), "label": labels % 2, "score": s[:, 1]} for s in (scores, other)]
    np.testing.assert_allclose(TabularDataModule.average_predictions(binary, ["a", "b"])["score"], (scores[:, 1] + other[:, 1]) / 2)
    with pytest.raises(ValueError, match=r"b: prediction table lacks columns \['score_pion'\]"):
        TabularDataModule.average_predictions([tables[0], {k: v for k, v in tables[1].items() if k != "score_pion"}], ["a", "b"])


def test_head_metrics_for_any_number_of_classes_and_per_element_masks() -> None:
    labels, scores = _predictions(n=200, n_classes=4)
    logits = torch.from_numpy(np.log(scores))
    auroc = HEAD_METRICS.get("auroc")()
    for part in np.array_split(np.arange(200), 3):  # several validation batches
        auroc.update(logits[part], torch.from_numpy(labels[part]))
    assert auroc.compute().item() == pytest.approx(skm.roc_auc_score(labels, scores, multi_class="ovr"), abs=1e-6)
    binary = HEAD_METRICS.get("auroc")()
    binary.update(logits[:, :2], torch.from_numpy(labels % 2))
    assert binary.compute().item() == pytest.approx(skm.roc_auc_score(labels % 2, scores[:, 1] / scores[:, :2].sum(axis=1)), abs=1e-6)

    # per element: logits (B, N, C), targets (B, N), a mask of the real elements
    per_hit, targets = logits.reshape(20, 10, 4), torch.from_numpy(labels.reshape(20, 10))
    mask = torch.arange(10)[None, :] < torch.arange(20)[:, None] % 10 + 1
    accuracy = HEAD_METRICS.get("accuracy")()
    accuracy.update(per_hit, targets, mask)
    right = [per_hit[b, n].argmax().item() == targets[b, n].item() for b in range(20) for n in range(10) if mask[b, n]]
    assert accuracy.compute().item() == pytest.approx(np.mean(right))
    # one logit per pair (a binary pairwise head)
    pair_logits, same = torch.randn(3, 4, 4), torch.randint(0, 2, (3, 4, 4))
    pairs = HEAD_METRICS.get("auroc")()
    pairs.update(pair_logits, same, torch.ones(3, 4, 4, dtype=torch.bool))
    assert pairs.compute().item() == pytest.approx(skm.roc_auc_score(same.reshape(-1), pair_logits.reshape(-1)), abs=1e-6)
    mae = HEAD_METRICS.get("mae")()
    mae.update(torch.tensor([[1.0, 5.0], [2.0, 0.0]]), torch.zeros(2, 2), torch.tensor([[True, False], [True, True]]))
    assert mae.compute().item() == pytest.approx(1.0)


def test_the_auroc_head_metric_leaves_classes_absent_from_the_labels_out_of_the_mean() -> None:
    labels, scores = _predictions(n=300, n_classes=4, seed=2)
    present = labels != 2  # a validation set without events of class 2
    labels, scores = labels[present], scores[present]
    auroc = HEAD_METRICS.get("auroc")()
    auroc.update(torch.from_numpy(np.log(scores)), torch.from_numpy(labels))
    reference = np.mean([skm.roc_auc_score(labels == k, scores[:, k]) for k in (0, 1, 3)])
    assert auroc.compute().item() == pytest.approx(reference, abs=1e-6)
    assert auroc.compute().item() == pytest.approx(cls.one_vs_rest_auc(labels, scores)[1], abs=1e-6)


def test_a_three_class_table_trains_and_evaluates_per_class(tabular_config: dict, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(300, 3))
    kinds = np.array(CLASSES)[np.argmax(features, axis=1)]
    path = tmp_path / "three.csv"
    path.write_text("a,b,c,cls\n" + "".join(f"{a:.5f},{b:.5f},{c:.5f},{k}\n" for (a, b, c), k in zip(features, kinds)))
    tabular_config["data"]["params"]["source"]["path"] = str(path)
    tabular_config["optimizer"] = {"name": "adam", "params": {"lr": 0.03}}
    tabular_config["evaluation"]["params"] = {"figure_formats": ["png"]}
    run = train(resolve_config(tabular_config), progress=False)
    scalars = run.metrics()["scalars"]
    assert scalars["n_classes"] == 3 and scalars["auc_macro"] > 0.7
    assert {f"auc_{name}" for name in CLASSES} <= set(scalars)
    logged = (run.logs / "csv" / "attempt_0" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"val/label_auroc", "val/label_accuracy"} <= set(logged)
