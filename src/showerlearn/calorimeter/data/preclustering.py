"""The first stage of the two-stage method: agglomerative pre-clusters of every event, small and pure, which a
network on pre-cluster pairs then merges (the seed study's two-stage method)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import ConfigDict, Field, field_validator

from showerlearn.calorimeter.baselines import AgglomerativeHitClustering
from showerlearn.calorimeter.data.events import HitEvents
from showerlearn.calorimeter.data.features import CLUSTER_FEATURES, check_features, cluster_features
from showerlearn.calorimeter.evaluation import cluster_table
from showerlearn.config.base import SettingsModel

__all__ = ["PreclusterSpec", "Preclusters", "precluster_events"]


class PreclusterSpec(SettingsModel):
    """Agglomerative pre-clustering of the hits (:class:`~showerlearn.calorimeter.baselines.AgglomerativeHitClustering`)."""

    model_config = ConfigDict(frozen=True)

    distance_threshold: float = Field(0.15, gt=0.0, description="Pre-clusters closer than this are merged (radians for directions).")
    linkage: Literal["single", "average", "complete", "ward"] = Field("single", description="scikit-learn's linkage.")
    energy_scale_mev: float | None = Field(None, gt=0.0, description="Energy difference counting as 1 [MeV]; null: not a feature.")
    time_scale_ns: float | None = Field(20.0, gt=0.0, description="Time difference counting as 1 [ns]; null: not a feature.")
    features: tuple[str, ...] = Field(CLUSTER_FEATURES, description=f"Pre-cluster features the network sees, of {list(CLUSTER_FEATURES)}.")

    @field_validator("features")
    @classmethod
    def _known(cls, features: tuple[str, ...]) -> tuple[str, ...]:
        check_features(features, CLUSTER_FEATURES)
        return features

    def clusterer(self) -> AgglomerativeHitClustering:
        # no hit is left out of the pre-clusters, those of zero energy that measured files may hold included
        return AgglomerativeHitClustering(self.distance_threshold, self.linkage, self.energy_scale_mev, self.time_scale_ns,
                                          crystal_threshold_mev=-np.inf)


@dataclass(frozen=True)
class Preclusters:
    """The pre-clusters of a set of events: per hit its pre-cluster within its event (``hit_cluster``, flat like
    the hits), per pre-cluster its ``features`` (physical, or standardised for the network) and ``owner`` (the
    true gamma that left most of its energy, -1 background), with the ``offsets`` of each event's pre-clusters."""

    hit_cluster: np.ndarray
    features: np.ndarray
    owner: np.ndarray
    offsets: np.ndarray


def precluster_events(events: HitEvents, spec: PreclusterSpec) -> Preclusters:
    """Pre-cluster every event: each hit's pre-cluster, and per pre-cluster its physical features and owner."""
    clusterer = spec.clusterer()
    hit_cluster = np.concatenate([clusterer.cluster(events.event(i)) for i in range(len(events))] or [np.zeros(0, np.int64)])
    n_clusters = np.array([hit_cluster[a:b].max(initial=-1) + 1 for a, b in zip(events.hit_offsets[:-1], events.hit_offsets[1:])])
    table = {**events.hits, "event": np.repeat(np.arange(len(events)), events.n_hits)}
    owner = cluster_table(table, hit_cluster)["owner"]  # sorted by event then label: the pre-clusters' order
    features = [cluster_features(events.event(i), hit_cluster[a:b], int(m), spec.features)
                for i, (a, b, m) in enumerate(zip(events.hit_offsets[:-1], events.hit_offsets[1:], n_clusters))]
    return Preclusters(
        hit_cluster=hit_cluster, features=np.concatenate(features) if features else np.zeros((0, len(spec.features))),
        owner=owner, offsets=np.r_[0, np.cumsum(n_clusters)].astype(np.int64),
    )
