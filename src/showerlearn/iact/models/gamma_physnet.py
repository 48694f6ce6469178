"""gamma-PhysNet (Jacquemont et al., VISAPP 2021): one network, one LST image, four tasks.

From a lattice image ``(B, in_channels, N)`` (charge, peak time, optional extra channels) the network
predicts the particle type (gamma / proton logits), the energy (``log10(E / TeV)``), the arrival
direction (2 numbers) and the impact point (2 numbers), the encodings of ``docs/architecture.md``.

Architecture (``docs/gamma_physnet.md`` has the parameter counts)::

    image (B, C_in, N) -> pre-activation lattice ResNet (ResNet-56: 3 stages x 9 basic blocks, 16/32/64
                          channels, stride-2 lattice pooling between stages)
                          [+ Dual Attention after every stage: gamma_physnet_da]
                       -> features (B, 64, N_out)
    global path: mean over pixels (B, 64) -> FC -> ReLU -> FC -> energy
    local path:  [light: 1x1 lattice conv 64 -> local_channels, BN, ReLU] -> flatten (B, C * N_out)
                   -> FC -> particle logits                      (as GammaLearn: straight from the flat maps)
                   -> FC -> ReLU -> fusion (B, fc_width) -> FC -> direction, FC -> impact
    [direction_head="vote": direction = soft-argmax vote of the last feature maps (showerlearn.iact.nn.vote)]
    [particle_head="pool": particle logits from the global path's pooled features, FC -> ReLU -> FC]
    [image_moments: the input's Hillas moments (showerlearn.iact.nn.moments), batch-normalised, join the
                    pooled features (energy, particle) and the fusion features (impact)]
    [direction_head="axis": direction = centroid + sign(side) * distance * axis + across * normal, the three
                            from FC -> ReLU -> FC over pooled features, fusion features and moments;
                            the particle head also reads the reconstructed energy and disp, detached]

``local_head="full"`` is GammaLearn's layout, whose flatten -> FC layers hold most of the weights
(on LSTCam, 117 pixels x 64 channels after two poolings: 1.93 M of 2.62 M parameters, 74 %);
``"light"`` first compresses the 64 channels to ``local_channels`` with a pointwise convolution, which
divides those layers by ``64 / local_channels`` (4 channels: 0.12 M, 0.81 M in all).

``direction_head="vote"`` replaces the paper's fully connected direction output by a vote of every
pixel of the last stage for the source position (its own position in the telescope frame plus a
predicted offset, softmax-weighted): the disp method's translation invariance built into the head.
``particle_head="pool"`` classifies from the pooled features, the same way at every position.
``direction_head="axis"`` goes further: the disp method itself, anchored on the image's exact
centroid and main axis, with the distance along the axis, its side and the offset across learnt
(and trained with the disp method's own loss terms, :meth:`GammaPhysNet.head_loss_terms`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from showerlearn.iact.geometry import CameraGeometry, FocalLength, Lattice, lattice_to_fov
from showerlearn.iact.nn import CLEANING_MASK, MOMENT_FEATURES, DualAttention, ImageMoments, LatticeResNet, LatticeVote
from showerlearn.iact.nn.backbone import depth_problem
from showerlearn.iact.nn.moments import AXIS, CENTROID, SKEWNESS, TIME_SLOPE
from showerlearn.registry import MODELS, Count, DropRate

__all__ = ["GammaPhysNet", "GammaPhysNetDA"]

#: what the particle head reads from the other heads with ``direction_head="axis"`` (detached)
CASCADE_FEATURES = ("log10_energy", "distance", "side", "across", "signed_skewness", "signed_time_slope")


@MODELS.register("gamma_physnet")
class GammaPhysNet(nn.Module):
    """gamma-PhysNet on any pixel lattice.

    Parameters
    ----------
    lattice, in_channels, n_classes
        Injected by the DataModule: the camera lattice, the number of input channels (2 for charge and
        peak time, more with extra channels) and the number of particle classes.
    depth
        ResNet depth ``6 n + 2`` (56: 9 basic blocks per stage).
    widths
        Channels of each stage (one stride-2 lattice pooling between consecutive stages).
    attention
        Dual Attention after every stage (gamma-PhysNet-DA).
    attention_ratio
        Squeeze-and-excitation reduction ratio of the Dual Attention blocks.
    local_head
        ``"full"``: flatten the last feature maps as they are (GammaLearn); ``"light"``: compress them to
        ``local_channels`` channels with a 1x1 lattice convolution first.
    local_channels
        Channels kept by the light local head.
    fc_width
        Width of the hidden fully connected layers (energy path and fusion layer).
    dropout
        Dropout probability on the flattened maps and on the hidden fully connected layers.
    direction_head
        ``"flatten"``: direction from the local path's fusion layer (the paper); ``"vote"``: every pixel
        of the last stage votes for the source position; ``"axis"``: the source's offset along and
        across the image's main axis from its centroid (both need ``camera`` and ``focal_length``).
    image_moments
        Feed the charge-weighted moments of the input image (intensity, centroid, axis, length, width,
        skewness, kurtosis, time slope, leakage; ``showerlearn.iact.nn.ImageMoments``) to the energy, particle
        and impact heads (needs ``camera`` and ``focal_length``).
    moments_mask_channel
        Input channel of the cleaning mask (2 with the DataModule's ``cleaning.as: channel``): the moments
        then weigh only the cleaned pixels while the backbone sees the whole image. ``"auto"``: the input
        channel the DataModule names ``cleaning_mask``, if any. ``None``: the moments weigh every pixel
        (right when the input is cleaned already, ``cleaning.as: mask``).
    zero_init_last
        Start every residual block as the identity (its last convolution at zero): a deeper network
        initialised from a trained shallower one (``init_from``) then starts as that network.
    channels_last
        Keep the backbone's 2-D activations channels-last in memory: fastest on CPUs (oneDNN) and on GPUs
        with 16-bit autocast (``trainer.precision``); ``false`` can be faster on GPUs in 32-bit. The
        results are the same.
    images_per_grid
        Images that share one 2-D grid in the backbone, their empty corners interleaved: 16 LST-camera
        images fill 76 % of a grid against 61 % for one: fewer empty cells to convolve
        (``benchmarks/results/train_throughput.md``: 16 is what takes the compiled network over issue 19's
        shares of the CPU's convolution peak). A batch that is not a multiple of it runs one image per grid.
        The results are the same within float rounding, an image with a non-finite pixel included: its outputs
        are NaN and the other images of its grid are unaffected (``docs/lattice.md``).
    particle_head
        ``"flatten"``: particle logits from the flattened local path (the paper); ``"pool"``: from the
        global path's pooled features through their own hidden layer, the same at every position.
    camera, focal_length
        Injected by the IACT DataModule: the camera the ``lattice`` was built from and the focal length
        of the direction targets; used to place the voting pixels in the telescope frame.
    channel_names
        Injected by the IACT DataModule: the name of each input channel (where ``"auto"`` finds the mask).
    charge_transform
        Injected by the IACT DataModule: how the charge channel was transformed (``transforms.charge``); the
        image moments weigh pixels by the charge itself, so they undo ``log1p``.
    """

    #: the outputs ``forward`` returns: the heads a task may train (the config check reads them)
    output_heads: tuple[str, ...] = ("particle", "energy", "direction", "impact")

    @classmethod
    def config_problems(cls, params: Mapping[str, Any], path: str) -> list[str]:
        """A depth the backbone cannot have, found by the config check rather than when the network is built."""
        problem = depth_problem(params["depth"]) if isinstance(params.get("depth"), int) else None
        return [] if problem is None else [f"{path}.depth: {problem}"]

    def __init__(
        self,
        lattice: Lattice,
        in_channels: int = 2,
        n_classes: int = 2,
        depth: Count = 56,
        widths: Sequence[Count] = (16, 32, 64),
        attention: bool = False,
        attention_ratio: Count = 16,
        local_head: Literal["full", "light"] = "full",
        local_channels: Count = 4,
        fc_width: Count = 256,
        dropout: DropRate = 0.0,
        direction_head: Literal["flatten", "vote", "axis"] = "flatten",
        particle_head: Literal["flatten", "pool"] = "flatten",
        image_moments: bool = False,
        moments_mask_channel: int | Literal["auto"] | None = "auto",
        zero_init_last: bool = False,
        channels_last: bool = True,
        images_per_grid: Count = 1,
        camera: CameraGeometry | None = None,
        focal_length: FocalLength | None = None,
        channel_names: Sequence[str] | None = None,
        charge_transform: Literal["log1p", "scale", "none"] = "none",
    ) -> None:
        super().__init__()
        if local_head not in ("full", "light"):
            raise ValueError(f"local_head must be 'full' or 'light', got {local_head!r}")
        if n_classes < 2:
            raise ValueError(f"gamma_physnet needs n_classes >= 2, got {n_classes}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if direction_head not in ("flatten", "vote", "axis"):
            raise ValueError(f"direction_head must be 'flatten', 'vote' or 'axis', got {direction_head!r}")
        if particle_head not in ("flatten", "pool"):
            raise ValueError(f"particle_head must be 'flatten' or 'pool', got {particle_head!r}")
        if moments_mask_channel == "auto":
            # without this, moments of an uncleaned input (cleaning.as: channel) would weigh the night-sky noise too
            names = list(channel_names or ())
            moments_mask_channel = names.index(CLEANING_MASK) if CLEANING_MASK in names else None
            if not (image_moments or direction_head == "axis"):
                moments_mask_channel = None
        if moments_mask_channel is not None and not 2 <= moments_mask_channel < in_channels:
            raise ValueError(
                f"moments_mask_channel must name an extra input channel (2 to {in_channels - 1}: the cleaning mask with "
                f"cleaning.as: channel), got {moments_mask_channel}"
            )
        if moments_mask_channel is not None and not (image_moments or direction_head == "axis"):
            raise ValueError("moments_mask_channel needs image_moments: true or direction_head: axis (nothing else reads the mask)")
        needs_positions = direction_head in ("vote", "axis") or image_moments
        if needs_positions and (camera is None or focal_length is None):
            raise ValueError(
                f"direction_head={direction_head!r} with image_moments={image_moments} needs the camera and its focal "
                "length (the IACT DataModule injects both)"
            )

        def add_attention(stage: int, channels: int, stage_lattice: Lattice) -> nn.Module | None:
            return DualAttention(channels, stage_lattice, ratio=attention_ratio) if attention else None

        self.backbone = LatticeResNet(
            lattice, in_channels, depth=depth, widths=tuple(widths), stage_hook=add_attention,
            zero_init_last=zero_init_last, channels_last=channels_last, images_per_grid=images_per_grid,
        )
        channels, n_out = self.backbone.out_channels, self.backbone.out_lattice.n_pixels

        # the image's Hillas moments (showerlearn.iact.nn.moments), normalised, join the pooled features
        self.moments = (
            ImageMoments(
                lattice_to_fov(lattice, camera, focal_length),
                time_channel=1 if in_channels > 1 else None,
                border=np.stack([camera.get_border_pixel_mask(1), camera.get_border_pixel_mask(2)]),
                mask_channel=moments_mask_channel,
                charge_log1p=charge_transform == "log1p",
            )
            if direction_head == "axis" or image_moments
            else None
        )
        self.moment_norm = nn.BatchNorm1d(len(MOMENT_FEATURES)) if self.moments is not None else None
        self.shares_moments = image_moments
        extra = len(MOMENT_FEATURES) if image_moments else 0

        def hidden_head(inputs: int, outputs: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Linear(inputs, fc_width), nn.ReLU(inplace=True), nn.Dropout(dropout), nn.Linear(fc_width, outputs)
            )

        self.energy_head = hidden_head(channels + extra, 1)
        if local_head == "light":
            self.local_reduce: nn.Module = nn.Sequential(
                nn.Conv1d(channels, local_channels, kernel_size=1, bias=False),
                nn.BatchNorm1d(local_channels),
                nn.ReLU(inplace=True),
            )
            flat = local_channels * n_out
        else:
            self.local_reduce = nn.Identity()
            flat = channels * n_out
        self.local_dropout = nn.Dropout(dropout)
        # with the axis head, the particle head also reads the reconstructed energy and disp and the
        # side-signed skewness and time slope, as lstchain's classifier does
        cascade = len(CASCADE_FEATURES) if direction_head == "axis" else 0
        self.cascade_norm = nn.BatchNorm1d(cascade) if cascade else None
        self.particle_head = (
            hidden_head(channels + extra + cascade, n_classes)
            if particle_head == "pool"
            else nn.Linear(flat + extra + cascade, n_classes)
        )
        self.pools_particle = particle_head == "pool"
        self.fusion = nn.Sequential(nn.Linear(flat, fc_width), nn.ReLU(inplace=True), nn.Dropout(dropout))
        self.direction_kind = direction_head
        if direction_head == "vote":
            positions = lattice_to_fov(self.backbone.out_lattice, camera, focal_length)
            self.direction_head: nn.Module = LatticeVote(channels, positions)
        elif direction_head == "axis":
            # the disp method's three numbers from everything the network knows: distance along the main
            # axis, side (logit), offset across it; zero at the start: "the source is at the centroid"
            self.direction_head = hidden_head(channels + fc_width + len(MOMENT_FEATURES), 3)
            nn.init.zeros_(self.direction_head[-1].weight)
            nn.init.zeros_(self.direction_head[-1].bias)
        else:
            self.direction_head = nn.Linear(fc_width, 2)
        self.impact_head = nn.Linear(fc_width + extra, 2)
        self._disp_terms: tuple[Tensor, ...] | None = None  # the axis head's outputs of the latest forward pass

    def forward(self, inputs: Tensor) -> dict[str, Tensor]:
        features = self.backbone(inputs)  # (B, C, N_out)
        # the heads in float32 under 16-bit autocast (trainer.precision): they regress physical quantities that
        # bfloat16's 8-bit mantissa would round by ~1 % (log-energy) or ~0.01 deg (an axis distance), and next
        # to the backbone they cost nothing
        head_dtype = next(self.energy_head.parameters()).dtype  # float32 under autocast, else the network's own
        with torch.autocast(inputs.device.type, enabled=False):
            return self._heads(inputs, features.to(head_dtype))

    def _heads(self, inputs: Tensor, features: Tensor) -> dict[str, Tensor]:
        pooled = features.mean(dim=2)
        local = self.local_dropout(torch.flatten(self.local_reduce(features), start_dim=1))
        fused = self.fusion(local)
        moments = self.moments(inputs).to(features.dtype) if self.moments is not None else None
        moment_features = self.moment_norm(moments) if moments is not None else None

        def with_moments(head_input: Tensor) -> Tensor:
            return torch.cat([head_input, moment_features], dim=1) if self.shares_moments else head_input

        energy = self.energy_head(with_moments(pooled)).squeeze(1)
        particle_input = with_moments(pooled if self.pools_particle else local)
        if self.direction_kind == "vote":
            direction = self.direction_head(features)
        elif self.direction_kind == "axis":
            # contiguous, not strided views of one (B, 3) tensor: the loss's gradients then come back
            # contiguous too, as a compiled network's backward (trainer.compile) expects them
            offsets = self.direction_head(torch.cat([pooled, fused, moment_features], dim=1))
            distance, side, across = offsets.t().contiguous().unbind(0)
            centroid, axis = moments[:, CENTROID], moments[:, AXIS]
            normal = torch.stack([-axis[:, 1], axis[:, 0]], dim=1)
            # a hard side, as the disp method's sign classifier: a regressed signed distance would shrink
            # towards the centroid wherever the side is uncertain. For the same reason only the disp
            # terms train the distance: the direction's loss on wrong-side events would pull it in.
            sign = torch.sign(side)
            direction = centroid + (distance.detach() * sign).unsqueeze(1) * axis + across.unsqueeze(1) * normal
            self._disp_terms = (distance, side, across, centroid, axis, normal)
            reconstructed = [energy, distance, side, across, moments[:, SKEWNESS] * sign, moments[:, TIME_SLOPE] * sign]
            cascade = self.cascade_norm(torch.stack(reconstructed, dim=1).detach())
            particle_input = torch.cat([particle_input, cascade], dim=1)
        else:
            direction = self.direction_head(fused)
        return {
            "particle": self.particle_head(particle_input),
            "energy": energy,
            "direction": direction,
            "impact": self.impact_head(with_moments(fused)),
        }

    def head_loss_terms(self, targets: dict[str, Tensor]) -> dict[str, Tensor]:
        """Per-event loss terms of the axis direction head, added to the direction loss by the task.

        As the disp method's forests: the distance along the axis (L1 against ``|disp|``), the side
        (binary cross-entropy) and the offset across the axis (L1), each against the true source
        position measured from the image's own centroid and axis. Empty for the other heads.
        """
        if self.direction_kind != "axis" or self._disp_terms is None:
            return {}
        distance, side, across, centroid, axis, normal = self._disp_terms
        offset = targets["direction"] - centroid
        true_along, true_across = (offset * axis).sum(dim=1), (offset * normal).sum(dim=1)
        side_loss = nn.functional.binary_cross_entropy_with_logits(side, (true_along > 0).float(), reduction="none")
        return {"direction": (distance - true_along.abs()).abs() + side_loss + (across - true_across).abs()}

    def shared_parameters(self) -> list[nn.Parameter]:
        """Weights of the backbone's last convolution, the last layer every head depends on (for GradNorm)."""
        return list(self.backbone.stages[-1][-1].conv2.parameters())

    def attention_modules(self) -> list[DualAttention]:
        """The Dual Attention block of each stage (empty without attention)."""
        return [m for m in self.backbone.modules() if isinstance(m, DualAttention)]

    def attention_maps(self) -> list[Tensor]:
        """Spatial attention maps of the latest forward pass, one ``(B, N_stage)`` tensor per stage, in [1, 2].

        Stage ``i`` lives on ``self.backbone.stage_lattices[i]``; project onto the camera pixels with
        :func:`showerlearn.iact.geometry.upsample_to_pixels`.
        """
        modules = self.attention_modules()
        if not modules:
            raise RuntimeError("this gamma_physnet has no attention (attention=False)")
        if any(m.last_spatial_map is None for m in modules):
            raise RuntimeError("no attention maps yet: run a forward pass first")
        return [m.last_spatial_map for m in modules]


@MODELS.register("gamma_physnet_da")
class GammaPhysNetDA(GammaPhysNet):
    """gamma-PhysNet-DA: gamma-PhysNet with Dual Attention after every stage (``attention=True`` by default)."""

    # The signature is spelled out (not **kwargs) so config validation sees every typed parameter.
    def __init__(
        self,
        lattice: Lattice,
        in_channels: int = 2,
        n_classes: int = 2,
        depth: Count = 56,
        widths: Sequence[Count] = (16, 32, 64),
        attention: bool = True,
        attention_ratio: Count = 16,
        local_head: Literal["full", "light"] = "full",
        local_channels: Count = 4,
        fc_width: Count = 256,
        dropout: DropRate = 0.0,
        direction_head: Literal["flatten", "vote", "axis"] = "flatten",
        particle_head: Literal["flatten", "pool"] = "flatten",
        image_moments: bool = False,
        moments_mask_channel: int | Literal["auto"] | None = "auto",
        zero_init_last: bool = False,
        channels_last: bool = True,
        images_per_grid: Count = 1,
        camera: CameraGeometry | None = None,
        focal_length: FocalLength | None = None,
        channel_names: Sequence[str] | None = None,
        charge_transform: Literal["log1p", "scale", "none"] = "none",
    ) -> None:
        super().__init__(
            lattice,
            in_channels=in_channels,
            n_classes=n_classes,
            depth=depth,
            widths=widths,
            attention=attention,
            attention_ratio=attention_ratio,
            local_head=local_head,
            local_channels=local_channels,
            fc_width=fc_width,
            dropout=dropout,
            direction_head=direction_head,
            particle_head=particle_head,
            image_moments=image_moments,
            moments_mask_channel=moments_mask_channel,
            zero_init_last=zero_init_last,
            channels_last=channels_last,
            images_per_grid=images_per_grid,
            camera=camera,
            focal_length=focal_length,
            channel_names=channel_names,
            charge_transform=charge_transform,
        )
