"""Reconstructed energy spectra: cluster energies in the lab and Doppler-corrected with each cluster's angle."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from showerlearn.calorimeter.kinematics import doppler_correct

__all__ = ["PREDICTION_TABLES", "energy_spectra", "prediction_spectra"]

#: the tables and columns of a prediction file (``showerlearn predict`` of a calorimeter run) that its spectra read
PREDICTION_TABLES = {"predictions": ("beta",), "clusters": ("event_index", "energy", "theta"),
                     "gammas": ("energy_lab", "energy_rest")}


def energy_spectra(clusters: dict[str, np.ndarray], beta: np.ndarray, edges: np.ndarray) -> dict[str, np.ndarray]:
    """Histograms over ``edges`` [MeV] of the cluster energies: ``lab`` and ``doppler_corrected`` (each
    cluster's event velocity from ``beta``, one value per event)."""
    corrected = doppler_correct(clusters["energy"], clusters["theta"], np.asarray(beta)[clusters["event"]])
    return {"lab": np.histogram(clusters["energy"], edges)[0], "doppler_corrected": np.histogram(corrected, edges)[0]}


def prediction_spectra(tables: Mapping[str, Mapping[str, np.ndarray]], edges: np.ndarray) -> dict[str, Any]:
    """The spectra of a prediction file's tables (:data:`PREDICTION_TABLES`), as :func:`energy_spectra` counts them
    (a cluster of an event without a velocity has no Doppler-corrected energy and is not counted there), with the
    truth, ``truth_lab`` and ``truth_rest``, where the file has gammas (a simulated input), and the counts of
    ``events``, ``clusters`` and ``clusters_without_beta``."""
    clusters, beta = tables["clusters"], np.asarray(tables["predictions"]["beta"], dtype=float)
    event = np.asarray(clusters["event_index"], dtype=np.int64)
    record: dict[str, Any] = {"edges": edges, **energy_spectra({**clusters, "event": event}, beta, edges)}
    gammas = tables["gammas"]
    if len(gammas["energy_lab"]):
        record.update(truth_lab=np.histogram(gammas["energy_lab"], edges)[0], truth_rest=np.histogram(gammas["energy_rest"], edges)[0])
    record.update(events=len(beta), clusters=len(event), clusters_without_beta=int(np.isnan(beta[event]).sum()))
    return record
