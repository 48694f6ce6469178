"""Learned clustering of calorimeter hits, trained by ``showerlearn train``: an edge classifier on hit pairs
(``hit_pair_mlp``), the two-stage pre-cluster merger (``precluster_merger``), a transformer with a
pairwise-similarity head (``hit_transformer``), object condensation on a transformer (``hit_condensation``)
and invariant slot attention (``hit_slot_attention``). Their outputs become cluster labels in
``showerlearn.calorimeter.data.decoding``.

May import: showerlearn.calorimeter.data, showerlearn.models.attention, showerlearn.registry, torch.
"""

from showerlearn.calorimeter.models.pairwise import HitPairMLP, PreclusterMerger
from showerlearn.calorimeter.models.slots import HitSlotAttention
from showerlearn.calorimeter.models.transformer import HitCondensation, HitTransformer

__all__ = ["HitCondensation", "HitPairMLP", "HitSlotAttention", "HitTransformer", "PreclusterMerger"]
