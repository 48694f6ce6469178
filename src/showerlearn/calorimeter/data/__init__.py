"""The calorimeter DataModule and what it is made of: hit files in memory, hit and pre-cluster features
standardised with the training split, per-event samples of padded hit sets with same-gamma targets, and the
decoding of network outputs into a cluster label per hit.

May import: showerlearn.calorimeter.baselines, showerlearn.calorimeter.evaluation, showerlearn.calorimeter.family,
showerlearn.calorimeter.geometry, showerlearn.calorimeter.io, showerlearn.calorimeter.kinematics,
showerlearn.calorimeter.simulation, showerlearn.data,
showerlearn.registry, showerlearn.config.base (typed settings), numpy, pydantic, scipy, torch; awkward inside the functions that read hit files.
"""

from showerlearn.calorimeter.data.datamodule import CalorimeterDataModule, SimulateSpec
from showerlearn.calorimeter.data.decoding import (
    DECODED_OUTPUTS,
    DecodingSpec,
    decode_labels,
    labels_from_condensation,
    labels_from_pairs,
    labels_from_slots,
    merge_preclusters,
)
from showerlearn.calorimeter.data.events import HitEvents, load_hit_files
from showerlearn.calorimeter.data.features import CLUSTER_FEATURES, HIT_FEATURES, FeatureSpec, cluster_features, hit_features
from showerlearn.calorimeter.data.preclustering import PreclusterSpec, Preclusters, precluster_events

__all__ = [
    "CLUSTER_FEATURES",
    "DECODED_OUTPUTS",
    "HIT_FEATURES",
    "CalorimeterDataModule",
    "DecodingSpec",
    "FeatureSpec",
    "HitEvents",
    "PreclusterSpec",
    "Preclusters",
    "SimulateSpec",
    "cluster_features",
    "decode_labels",
    "hit_features",
    "labels_from_condensation",
    "labels_from_pairs",
    "labels_from_slots",
    "load_hit_files",
    "merge_preclusters",
    "precluster_events",
]
