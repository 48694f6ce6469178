"""The gamma/hadron convention of the IACT family, in one place.

Three encodings of "which particle" meet in the Cherenkov code, and every module converts through
the names here:

* the simulation truth ``true_shower_primary_id``: CORSIKA / ctapipe primary ids (:data:`PRIMARY_IDS`;
  lstchain's ``mc_type`` uses the same);
* the class index of the ``particle`` head of networks and baselines: :data:`PARTICLE_CLASSES` order,
  gamma :data:`GAMMA_CLASS`; every other primary is background (:data:`PROTON_CLASS`). The head
  outputs logits (or log-probabilities); their softmax at the gamma class is the :func:`gammaness`;
* the 0/1 label of the ROC and the classification metrics (:mod:`showerlearn.metrics.classification`):
  the gamma is the positive class, :data:`GAMMA_LABEL` = 1 (:func:`gamma_labels`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "GAMMA_CLASS",
    "GAMMA_LABEL",
    "GAMMA_PRIMARY_ID",
    "PARTICLE_CLASSES",
    "PRIMARY_IDS",
    "PROTON_CLASS",
    "PROTON_PRIMARY_ID",
    "gamma_labels",
    "gammaness",
    "particle_class",
]

#: ``true_shower_primary_id`` of each primary (CORSIKA / ctapipe; negative: no simulation truth).
PRIMARY_IDS: dict[str, int] = {"gamma": 0, "electron": 1, "muon": 2, "proton": 101, "helium": 402}
GAMMA_PRIMARY_ID = PRIMARY_IDS["gamma"]
PROTON_PRIMARY_ID = PRIMARY_IDS["proton"]

#: Classes of the ``particle`` head, in class-index order (outputs, targets, class weights).
PARTICLE_CLASSES = ("gamma", "proton")
GAMMA_CLASS = PARTICLE_CLASSES.index("gamma")
#: the background class: protons, and every other non-gamma primary with them
PROTON_CLASS = PARTICLE_CLASSES.index("proton")

#: Label of the gammas in ROC / AUC / cut metrics (the positive class); background is 0.
GAMMA_LABEL = 1


def particle_class(primary_id: Any) -> np.ndarray:
    """Class index of the ``particle`` head: :data:`GAMMA_CLASS` for gammas, :data:`PROTON_CLASS` otherwise."""
    return np.where(np.asarray(primary_id) == GAMMA_PRIMARY_ID, GAMMA_CLASS, PROTON_CLASS).astype(np.int64)


def gamma_labels(primary_id: Any) -> np.ndarray:
    """Binary ROC labels: :data:`GAMMA_LABEL` (1) for gammas, 0 for everything else."""
    return np.where(np.asarray(primary_id) == GAMMA_PRIMARY_ID, GAMMA_LABEL, 1 - GAMMA_LABEL).astype(np.int8)


def gammaness(particle_output: Any) -> np.ndarray:
    """Gamma probability of each event from the ``particle`` head's (n, n_classes) logits: softmax at
    :data:`GAMMA_CLASS` (log-probabilities, as the baselines give, are logits too)."""
    logits = np.asarray(particle_output, dtype=np.float64)
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    return probabilities[:, GAMMA_CLASS] / probabilities.sum(axis=1)
