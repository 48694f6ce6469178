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
    assert params == {"head": "label", "n_estimators": 20, "max_depth": 5, "min_samples_leaf": 1, "n_jobs": 1, "seed": 4}
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
