"""The IACT family's explanation adapter (:class:`showerlearn.explain.driver.ExplainAdapter`): the true
p.e. images of DL1 events, Grad-CAM maps brought to the camera pixels through the lattice pooling
hierarchy, the Dual Attention maps, the criteria against the true Cherenkov signal and event figures on
the camera.

Criteria of attention maps read the amplification ``map - 1`` (a Dual Attention factor of 1 leaves a
pixel as it is), so their "mass" is how much was amplified. The signal region of a map from a coarse
stage is grown to that stage's cells (``whole_cells``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from torch import Tensor, nn

from showerlearn.explain.attention import AttentionWeights
from showerlearn.explain.driver import ATTENTION_PREFIX, CriteriaSettings, FigureRow
from showerlearn.explain.gradcam import Projection
from showerlearn.explain.loading import TrainedRun
from showerlearn.iact.explain.attention import dual_attention_maps, dual_attention_modules, global_spatial_attention
from showerlearn.iact.explain.criteria import CRITERIA, explanation_criteria
from showerlearn.iact.explain.gradcam import camera_projection
from showerlearn.iact.explain.projection import PixelProjector

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["IACTExplainAdapter"]


class IACTExplainAdapter:
    """Explains a run of the IACT DataModule: its prediction set's events on the camera of its lattice."""

    truth_label = "true p.e."
    criteria_definitions = CRITERIA
    id_columns = ("obs_id", "event_id", "tel_id")

    def __init__(self, trained: TrainedRun) -> None:
        datamodule = trained.datamodule
        model_inputs = datamodule.model_inputs()
        self.lattice, self.camera = model_inputs["lattice"], model_inputs["camera"]
        self.neighbours = self.lattice.neighbours(1)
        self.channels = list(datamodule.transform.channels)  # type: ignore[attr-defined]
        self.channel_labels = datamodule.transform.channel_labels  # type: ignore[attr-defined]
        self.dataset = datamodule.predict_set
        # a stage's cells come from the trained network's pooling hierarchy, which its random copy shares
        self.projector = PixelProjector(trained.model, self.lattice)
        self.blocks = dual_attention_modules(trained.model)

    def has_truth(self, positions: np.ndarray) -> bool:
        files = np.unique(self.dataset.file_index[positions])
        return all(self.dataset.files[i].has_true_image for i in files)

    def truth(self, positions: np.ndarray) -> np.ndarray:
        """True p.e. images of the events, read file by file."""
        file_index, rows = self.dataset.file_index[positions], self.dataset.row[positions]
        images = np.zeros((len(positions), self.lattice.n_pixels))
        for index in np.unique(file_index):
            where = np.flatnonzero(file_index == index)
            images[where] = self.dataset.files[index].read(rows[where])["true_image"]
        return images

    def projection(self, model: nn.Module, layer: str | None = None) -> Projection:
        return camera_projection(model, lattice=self.lattice)

    def attention_maps(self, model: nn.Module, records: Sequence[AttentionWeights]) -> dict[str, Tensor]:
        """Each Dual Attention block's map (``"1"``, ``"2"``...) and their product (``"product"``); the IACT
        networks have no ``nn.MultiheadAttention``, so ``records`` is empty and not read."""
        if not dual_attention_modules(model):
            return {}
        spatial = dual_attention_maps(model, self.lattice)
        return {**{str(i + 1): m for i, m in enumerate(spatial)}, "product": global_spatial_attention(spatial)}

    def criteria(
        self, name: str, maps: np.ndarray, truth: np.ndarray, settings: CriteriaSettings, layer_shape: tuple[int, ...] | None
    ) -> dict[str, np.ndarray]:
        values = maps - 1.0 if name.startswith(ATTENTION_PREFIX) else maps
        return explanation_criteria(
            values, truth, self.lattice.x, self.lattice.y, self.neighbours,
            signal_threshold=settings.signal_threshold, dilation=settings.dilation, level=settings.level,
            cells=self._cells(name, layer_shape) if settings.whole_cells else None,
        )

    def _cells(self, name: str, layer_shape: tuple[int, ...] | None) -> np.ndarray | None:
        """The coarse pixel each camera pixel takes its value from, for a map made on one lattice stage
        (a Grad-CAM layer ``(N,)``, an attention block); None for other maps (images, the product)."""
        if name.startswith(ATTENTION_PREFIX):
            block = name[len(ATTENTION_PREFIX) :]
            n_stage = self.blocks[int(block) - 1].lattice.n_pixels if block.isdigit() else None
        else:
            n_stage = layer_shape[0] if layer_shape is not None and len(layer_shape) == 1 else None
        return self.projector(np.arange(n_stage)) if n_stage in self.projector.chains else None

    def input_panels(self, inputs: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """One panel per input channel (charge, peak time...)."""
        return list(zip(self.channels, inputs, strict=True))

    def event_figure(self, title: str, rows: Sequence[FigureRow]) -> Figure:
        from showerlearn.iact.viz.camera import camera_rows_figure  # ctapipe's displays only when drawing

        return camera_rows_figure(self.camera, title, rows, self.colorbar_label)

    def colorbar_label(self, panel: str) -> str:
        """What a panel's colours measure: an input channel in its unit, the true signal in p.e., a Grad-CAM
        map (gradient-weighted activations: no physical unit) or a Dual Attention factor (1: pixel unchanged)."""
        if panel in self.channel_labels:
            return self.channel_labels[panel]
        if panel == self.truth_label:
            return "true signal [p.e.]"
        if "Grad-CAM" in panel:
            return "Grad-CAM [arb. units]"
        return "attention factor" if "attention" in panel else ""
