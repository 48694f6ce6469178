"""Batches of variable-length sets: the hits of a calorimeter event, the constituents of a jet.

:func:`pad_sets` pads per-event arrays to one tensor and a mask; :func:`collate_padded` builds a whole
batch from per-event sample dicts, for a DataModule whose :meth:`~showerlearn.data.base.ShowerDataModule.collate`
returns ``collate_padded(samples, elements=[...], pairs=[...])``. Its conventions:

* an entry is named ``"section.key"``: ``"inputs.hits"``, ``"targets.cluster"``, ``"meta.hit_energy"``;
  ``elements`` have one row per element on their first axis ``(n_i, ...)``, ``pairs`` one per element
  pair on their first two ``(n_i, n_i, ...)``. They are zero-padded to ``(B, N, ...)``, ``(B, N, N, ...)``
  with ``N`` the largest ``n_i`` of the batch (at least ``min_size``), or ``size`` (longer sets are cut to
  their first ``size`` elements: order them by importance, e.g. energy, beforehand).
* an input stream or meta entry ``K`` gets its element mask ``(B, N)`` (True = real element) as the
  entry ``K_mask`` of the same section: ``inputs = {"hits": (B, N, F), "hits_mask": (B, N)}``; a model
  with two streams reads ``tracks_mask`` and ``towers_mask``.
* a target ``K`` gets its mask as ``batch["masks"][K]``, what the loss and metrics of head ``K`` select:
  ``(B, N)`` real elements for ``elements``, ``(B, N, N)`` pairs of two different real elements for
  ``pairs`` (a pair of an element with itself says nothing), and-ed with the sample's own
  ``masks[K]`` when it has one (per event: it applies to all the event's elements; per element:
  padded with False).
* everything else (per-event inputs, targets, masks, weights, meta) goes through torch's
  ``default_collate``, as in a batch without sets.

:func:`concatenate_batches` joins the outputs or meta of many such batches into arrays over all events,
padding each batch's elements to the largest ``N``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import default_collate

SECTIONS = ("inputs", "targets", "meta")


def pad_sets(
    sets: Sequence[Tensor | np.ndarray], size: int | None = None, *, set_axes: int = 1, min_size: int = 0
) -> tuple[Tensor, Tensor]:
    """Zero-pad per-event arrays ``(n_i, *F)`` to ``(B, N, *F)`` and return it with the mask ``(B, N)``
    (True = real element); ``N`` is ``size`` (longer sets cut) or the largest ``n_i``, at least ``min_size``
    (padding slots only: a batch of events without elements still has an element axis to attend over).

    ``set_axes=2`` pads arrays over element pairs, ``(n_i, n_i, *F)`` -> ``(B, N, N, *F)``; the mask is
    still the per-element ``(B, N)``.
    """
    tensors = [torch.as_tensor(values) for values in sets]
    shapes = [tuple(values.shape) for values in tensors]
    features = {shape[set_axes:] for shape in shapes}
    square = all(len(shape) >= set_axes and len(set(shape[:set_axes])) == 1 for shape in shapes)
    if not tensors or len(features) > 1 or not square:
        raise ValueError(f"sets must be shaped (n_i,{' n_i,' * (set_axes - 1)} *F) with the same F, got {shapes}")
    n = max(max(shape[0] for shape in shapes), min_size) if size is None else size
    padded = tensors[0].new_zeros((len(tensors), *(n,) * set_axes, *features.pop()))
    mask = torch.zeros((len(tensors), n), dtype=torch.bool)
    for row, values in enumerate(tensors):
        kept = (slice(0, min(values.shape[0], n)),) * set_axes
        padded[(row, *kept)] = values[kept]
        mask[row, kept[0]] = True
    return padded, mask


def pair_mask(mask: Tensor) -> Tensor:
    """``(B, N)`` element mask -> ``(B, N, N)``: both elements real and different."""
    different = ~torch.eye(mask.shape[1], dtype=torch.bool, device=mask.device)
    return mask[:, :, None] & mask[:, None, :] & different


def collate_padded(
    samples: Sequence[Mapping[str, Any]],
    elements: Collection[str] = (),
    pairs: Collection[str] = (),
    size: int | None = None,
    min_size: int = 0,
) -> dict[str, Any]:
    """One batch from per-event samples whose ``elements`` and ``pairs`` entries are variable-length sets
    (the conventions are in this module's docstring); ``min_size``: the fewest element slots of a set."""
    padded = {**{name: 1 for name in elements}, **{name: 2 for name in pairs}}
    locations = {name: _location(name, samples[0]) for name in padded}
    padded_targets = {key for section, key in locations.values() if section == "targets"}
    batch = default_collate([_without(sample, locations.values(), padded_targets) for sample in samples])
    for name, set_axes in padded.items():
        section, key = locations[name]
        values, real = pad_sets([sample[section][key] for sample in samples], size, set_axes=set_axes, min_size=min_size)
        batch.setdefault(section, {})[key] = values
        if section == "targets":
            batch.setdefault("masks", {})[key] = _target_mask(samples, key, real, set_axes)
        else:
            batch[section][f"{key}_mask"] = real
    return batch


def _location(name: str, sample: Mapping[str, Any]) -> tuple[str, str]:
    section, _, key = name.partition(".")
    if section not in SECTIONS or not key:
        raise ValueError(f"padded entry {name!r} must be named 'section.key' with a section of {SECTIONS}")
    if not isinstance(sample.get(section), Mapping) or key not in sample[section]:
        raise KeyError(f"padded entry {name!r}: the samples have no {section}[{key!r}] (inputs must be a dict of streams)")
    return section, key


def _without(sample: Mapping[str, Any], locations: Collection[tuple[str, str]], targets: Collection[str]) -> dict[str, Any]:
    """The sample without its padded entries and the own masks of padded targets (collated apart)."""
    dropped = {*locations, *(("masks", key) for key in targets)}
    return {
        section: {k: v for k, v in value.items() if (section, k) not in dropped} if isinstance(value, Mapping) else value
        for section, value in sample.items()
    }


def _target_mask(samples: Sequence[Mapping[str, Any]], key: str, real: Tensor, set_axes: int) -> Tensor:
    mask = real if set_axes == 1 else pair_mask(real)
    own = [sample.get("masks", {}).get(key) for sample in samples]
    if all(m is None for m in own):
        return mask
    if any(m is None for m in own):
        raise ValueError(f"masks[{key!r}] is in some samples and not in others")
    own_masks = [torch.as_tensor(m, dtype=torch.bool) for m in own]
    if all(m.dim() == 0 for m in own_masks):  # per event: for all its elements
        return mask & torch.stack(own_masks).reshape(-1, *(1,) * set_axes)
    own_padded, _ = pad_sets(own_masks, real.shape[1], set_axes=set_axes)
    return mask & own_padded


def concatenate_batches(parts: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Join per-batch dicts of tensors (or lists) into one dict of numpy arrays, along the events.

    Per-element entries of padded batches (``(B, N_b, ...)`` with another ``N_b`` per batch) are
    zero-padded to the largest: masks padded with False keep telling the real elements.
    """
    if not parts:
        return {}
    return {key: join_padded([to_numpy(part[key]) for part in parts]) for key in parts[0]}


def join_padded(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Arrays ``(B_k, ...)`` concatenated along their first axis, each zero-padded at the end of its other
    axes to the largest size among them."""
    largest = [max(sizes) for sizes in zip(*(array.shape[1:] for array in arrays))]
    padded = []
    for array in arrays:
        widths = [(0, 0), *((0, n - m) for n, m in zip(largest, array.shape[1:]))]
        padded.append(np.pad(array, widths) if any(after for _, after in widths) else array)
    return np.concatenate(padded)


def to_numpy(values: Any) -> np.ndarray:
    """A tensor (detached, on the CPU) or a list as numpy; half-precision outputs (mixed precision) become
    float32, float64 truth stays float64."""
    if torch.is_tensor(values):
        values = values.detach().cpu()
        return values.float().numpy() if values.dtype in (torch.float16, torch.bfloat16) else values.numpy()
    return np.asarray(values)
