"""The core random forest is a scikit-learn classifier (checks, clone, Pipeline, GridSearchCV) that the
engine also trains with targets and masks per head."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

from showerlearn.baselines.random_forest import RandomForest


@pytest.fixture(scope="module")
def table() -> tuple[np.ndarray, np.ndarray]:
    return make_classification(n_samples=300, n_features=6, n_informative=4, random_state=0)


def test_passes_the_scikit_learn_estimator_checks() -> None:
    # every check applies; those on pandas DataFrames skip where pandas is not installed
    check_estimator(RandomForest(n_estimators=5), on_skip=None)


def test_params_round_trip_and_clone_refits_to_the_same_predictions(table) -> None:
    X, y = table
    model = RandomForest(n_estimators=20, max_depth=5, seed=4)
    params = model.get_params()
    assert params == {
        "head": "label", "n_estimators": 20, "max_depth": 5, "min_samples_leaf": 1, "n_jobs": 1, "seed": 4, "n_classes": None
    }  # fmt: skip
    assert RandomForest(**params).get_params() == params
    assert model.set_params(max_depth=6) is model and model.max_depth == 6
    model.fit(X, y)
    copy = clone(model)
    assert copy.get_params() == model.get_params() and not hasattr(copy, "forest_")
    np.testing.assert_array_equal(copy.fit(X, y).predict_proba(X), model.predict_proba(X))


def test_in_a_pipeline_and_a_grid_search(table) -> None:
    X, y = table
    pipeline = make_pipeline(StandardScaler(), RandomForest(n_estimators=10, seed=1))
    assert pipeline.fit(X[:200], y[:200]).score(X[200:], y[200:]) > 0.8
    search = GridSearchCV(pipeline, {"randomforest__n_estimators": [5, 20]}, cv=3).fit(X, y)
    assert search.best_params_["randomforest__n_estimators"] in (5, 20)
    assert search.best_estimator_.predict(X).shape == y.shape


def test_engine_form_trains_on_the_masked_rows_and_gives_log_probabilities(table) -> None:
    X, y = table
    mask = np.arange(len(y)) % 3 > 0
    engine = RandomForest(n_estimators=10).fit(X, {"label": y}, {"label": mask})
    outputs = engine.predict(X)
    assert set(outputs) == {"label"} and outputs["label"].shape == (len(y), 2)
    plain = RandomForest(n_estimators=10).fit(X[mask], y[mask])
    np.testing.assert_allclose(np.exp(outputs["label"]), plain.predict_proba(X), atol=1e-12)
    np.testing.assert_array_equal(plain.predict(X), np.argmax(outputs["label"], axis=1))
    with pytest.raises(KeyError, match="no targets for head 'label'"):
        RandomForest().fit(X, {"energy": y})


def test_a_class_missing_from_the_training_rows_keeps_its_column_with_probability_zero() -> None:
    X, y = make_classification(n_samples=300, n_features=6, n_informative=4, n_classes=4, random_state=1)
    train = y != 2  # class 2 never seen in training
    model = RandomForest(n_estimators=10, n_classes=4).fit(X[train], {"label": y[train]})
    probabilities = np.exp(model.predict(X)["label"])
    assert probabilities.shape == (len(y), 4)
    reference = RandomForest(n_estimators=10).fit(X[train], y[train]).predict_proba(X)  # columns 0, 1, 3
    np.testing.assert_allclose(probabilities[:, [0, 1, 3]], reference, atol=1e-12)
    assert np.all(probabilities[:, 2] < 1e-20)
    np.testing.assert_array_equal(model.classes_, np.arange(4))
    copy = clone(model)
    assert copy.get_params()["n_classes"] == 4 and not hasattr(copy, "forest_")
    with pytest.raises(ValueError, match=r"n_classes=2 the labels of head 'label' must be class indices 0 \.\. 1; got \[0, 1, 3\]"):
        RandomForest(n_estimators=2, n_classes=2).fit(X[train], y[train])


def test_the_engine_injects_the_number_of_classes_of_a_table(tmp_path) -> None:
    from showerlearn.config.components import build
    from showerlearn.config.schema import Component
    from showerlearn.data.tabular import TableSource, TabularDataModule
    from showerlearn.registry import ESTIMATORS

    path = tmp_path / "table.csv"
    path.write_text("a,kind\n" + "".join(f"{i},{'abc'[i % 3]}\n" for i in range(30)))
    data = TabularDataModule(TableSource(path=path), features=["a"], label="kind")
    forest = build(Component(name="random_forest"), ESTIMATORS, "estimator", injected={**data.model_inputs(), "seed": 0})
    assert forest.n_classes == 3


def test_a_forest_saved_before_n_classes_existed_still_predicts(table) -> None:
    """A forest loaded from an earlier version's file has no ``n_classes``: its classes are those it saw."""
    X, y = table
    forest = RandomForest(n_estimators=5).fit(X, y)
    del forest.__dict__["n_classes"]
    assert forest.predict_proba(X).shape == (len(X), 2)
