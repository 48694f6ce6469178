"""Edge classifiers: an MLP scores every pair of elements (hits, or pre-clusters for the two-stage method) as
coming from the same gamma; the decoding joins the pairs above a threshold and takes connected components.

Pair features are the seed study's (Jenegger et al., arXiv:2506.09088): the standardised features of both
elements (E, theta, phi, t and the derived quantities the DataModule gives) and their differences, plus the
cosine of their opening angle. The MLP scores both orders of a pair and averages them, so the score does not
depend on which element comes first. Trained with ``pairwise_bce``, whose ``pos_weight`` weighs up the
same-gamma pairs (a few among many).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from showerlearn.calorimeter.data.features import FeatureSpec
from showerlearn.calorimeter.models.layers import directions, mlp, ordered_pair_features, pair_cosines, symmetric
from showerlearn.registry import MODELS, Count, DropRate

__all__ = ["HitPairMLP", "PreclusterMerger"]


class _PairMLP(nn.Module):
    """An MLP on the ordered pair features of one input stream, one symmetric logit per pair."""

    stream: str
    output: str

    def __init__(self, spec: FeatureSpec, hidden: Count, layers: Count, dropout: DropRate) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"layers must be >= 1, got {layers}")
        self.spec = spec
        self.score = mlp([3 * len(spec.names) + 1, *[hidden] * layers, 1], dropout)

    @classmethod
    def output_heads(cls, params: Mapping[str, Any]) -> tuple[str, ...]:
        """The one head ``forward`` returns, the pair scores ``output``, whatever the params (the config check
        reads it)."""
        return (cls.output,)

    def forward(self, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        features = inputs[self.stream]
        pairs = ordered_pair_features(features, pair_cosines(directions(features, self.spec)))
        return {self.output: symmetric(self.score(pairs).squeeze(-1))}


@MODELS.register("hit_pair_mlp")
class HitPairMLP(_PairMLP):
    """Edge classifier on hit pairs: an MLP on the features of both hits and their differences (output ``pairs``).

    Parameters
    ----------
    hit_features
        Injected by the DataModule: the hit features and their standardisation.
    hidden
        Width of the hidden layers.
    layers
        Number of hidden layers.
    dropout
        Dropout after every hidden layer.
    """

    stream = "hits"
    output = "pairs"

    def __init__(self, hit_features: FeatureSpec, hidden: Count = 64, layers: Count = 3, dropout: DropRate = 0.0) -> None:
        super().__init__(hit_features, hidden, layers, dropout)


@MODELS.register("precluster_merger")
class PreclusterMerger(_PairMLP):
    """The second stage of the two-stage method: an MLP on pairs of agglomerative pre-clusters (energy-weighted
    centroids, energies, times, sizes and their differences) that merges over-split ones (output
    ``cluster_pairs``; needs ``data.params.preclustering``).

    Parameters
    ----------
    cluster_features
        Injected by the DataModule: the pre-cluster features and their standardisation.
    hidden
        Width of the hidden layers.
    layers
        Number of hidden layers.
    dropout
        Dropout after every hidden layer.
    """

    stream = "clusters"
    output = "cluster_pairs"

    def __init__(self, cluster_features: FeatureSpec | None, hidden: Count = 64, layers: Count = 3, dropout: DropRate = 0.0) -> None:
        if cluster_features is None:
            raise ValueError("precluster_merger needs pre-clusters: set data.params.preclustering (e.g. {distance_threshold: 0.15})")
        super().__init__(cluster_features, hidden, layers, dropout)
