"""Task balancing: how the per-head losses of a multi-task model become the one loss to backpropagate.

Three strategies, registered in :data:`showerlearn.registry.BALANCERS` and built as
``BALANCERS.get(name)(heads=heads, **params)`` where ``heads`` maps each head name to the kind its loss
declares (``"classification"``, ``"regression"``, ``"pairwise"``, ... :func:`showerlearn.tasks.losses.declare_kind`);
only uncertainty weighting looks at the kind, for whether its likelihood is categorical:

``fixed``
    ``L = sum_i w_i L_i`` with user weights (default 1 each).
``uncertainty``
    Homoscedastic uncertainty weighting (Kendall, Gal & Cipolla, CVPR 2018, arXiv:1705.07115) with one
    learnable log-variance ``s_i = log sigma_i^2`` per head (an ``nn.Parameter`` of the balancer, so the
    optimizer of the module that owns the balancer updates it).
``gradnorm``
    GradNorm (Chen et al., ICML 2018, arXiv:1711.02257): learnable weights ``w_i`` pushed so that the
    weighted gradient norms on the last shared layer train at similar rates.

Every balancer reports the weight it currently applies to each head with :meth:`TaskBalancer.current_weights`
(logged each step by the task module) and is told about optimizer steps via
:meth:`TaskBalancer.after_optimizer_step`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from showerlearn.registry import BALANCERS
from showerlearn.tasks.losses import LossKind, declared_kind


class TaskBalancer(nn.Module):
    """Base class: combines ``{head: scalar loss}`` into the total loss.

    Parameters
    ----------
    heads
        Head name -> the kind its loss declares (``"classification"``, ``"regression"``, ...). The order of
        this mapping fixes the order of any per-head parameter vector (``log_vars``, ``weights``).
    """

    def __init__(self, heads: Mapping[str, str]) -> None:
        super().__init__()
        if not heads:
            raise ValueError("a task balancer needs at least one head")
        self.heads: dict[str, str] = dict(heads)
        self.kinds: dict[str, LossKind] = {name: _declared(name, kind) for name, kind in heads.items()}

    @property
    def head_names(self) -> list[str]:
        return list(self.heads)

    def forward(self, losses: Mapping[str, Tensor], shared_parameters: Sequence[nn.Parameter] | None = None) -> Tensor:
        """Return the scalar to backpropagate from the per-head scalar losses."""
        raise NotImplementedError

    def current_weights(self) -> dict[str, float]:
        """The multiplier each head's loss currently receives (for logging)."""
        raise NotImplementedError

    def after_optimizer_step(self) -> None:
        """Hook called by the task module after every optimizer step (no-op unless a strategy needs it)."""

    def _stack(self, losses: Mapping[str, Tensor]) -> Tensor:
        """Per-head losses as one vector in head order; a clear error when heads are missing or unknown."""
        missing = [h for h in self.heads if h not in losses]
        unknown = [h for h in losses if h not in self.heads]
        if missing or unknown:
            raise KeyError(
                f"{type(self).__name__}: losses must have exactly the heads {self.head_names}; "
                f"missing {missing}, unknown {unknown}"
            )
        values = [losses[h] for h in self.heads]
        for name, value in zip(self.heads, values):
            if value.dim() != 0:
                raise ValueError(f"loss of head {name!r} must be a scalar, got shape {tuple(value.shape)}")
        return torch.stack(values)


def _declared(head: str, kind: str) -> LossKind:
    try:
        return declared_kind(kind)
    except ValueError as error:
        raise ValueError(f"head {head!r}: {error}") from None


@BALANCERS.register("fixed")
class FixedWeights(TaskBalancer):
    """``L = sum_i w_i L_i`` with constant weights.

    Parameters
    ----------
    weights
        Head name -> weight; heads not named get 1.
    """

    def __init__(self, heads: Mapping[str, str], weights: Mapping[str, float] | None = None) -> None:
        super().__init__(heads)
        weights = dict(weights or {})
        unknown = sorted(set(weights) - set(self.heads))
        if unknown:
            raise ValueError(f"fixed weights name unknown heads {unknown}; heads are {self.head_names}")
        values = [float(weights.get(h, 1.0)) for h in self.heads]
        if any(not math.isfinite(v) or v < 0 for v in values):
            raise ValueError(f"fixed weights must be finite and >= 0, got {dict(zip(self.heads, values))}")
        self.register_buffer("weights", torch.tensor(values))

    def forward(self, losses: Mapping[str, Tensor], shared_parameters: Sequence[nn.Parameter] | None = None) -> Tensor:
        stacked = self._stack(losses)
        return (self.weights.to(stacked) * stacked).sum()

    def current_weights(self) -> dict[str, float]:
        return dict(zip(self.heads, self.weights.tolist()))


@BALANCERS.register("uncertainty")
class UncertaintyWeighting(TaskBalancer):
    r"""Homoscedastic uncertainty weighting with learnable log-variances ``s_i = log sigma_i^2``.

    ``form="kendall"`` (default) is the paper's derivation (Kendall et al. 2018, section 3.2):

    * Gaussian likelihood (regression):     ``0.5 * exp(-s_i) * L_i + 0.5 * s_i``
      (:math:`\frac{1}{2\sigma^2} L + \log\sigma`)
    * categorical likelihood (scaled softmax or sigmoid: classification, pairwise):
      ``exp(-s_i) * L_i + 0.5 * s_i`` (:math:`\frac{1}{\sigma^2} L + \log\sigma`)

    The form of each head follows the ``categorical`` flag of the kind its loss declares.

    ``form="gammalearn"`` is GammaLearn's ``UncertaintyWeighting`` (used for gamma-PhysNet):
    ``exp(-s_i) * L_i + s_i`` for every head, whatever its kind. For a regression head this is exactly twice
    the Kendall term (same optimum ``s_i = log L_i``); for a classification head the optimum moves from
    ``log(2 L_i)`` to ``log L_i``, so the two forms weigh classification against regression differently.
    GammaLearn initialises ``s_i = 1``; pass ``init_log_var=1.0`` to reproduce it.

    :meth:`current_weights` reports the effective multiplier of each loss (``0.5 exp(-s)`` or ``exp(-s)``);
    :attr:`log_vars` holds ``s``.
    """

    def __init__(
        self,
        heads: Mapping[str, str],
        init_log_var: float = 0.0,
        form: Literal["kendall", "gammalearn"] = "kendall",
    ) -> None:
        super().__init__(heads)
        if form == "kendall":
            scale = [1.0 if kind.categorical else 0.5 for kind in self.kinds.values()]
            penalty = [0.5] * len(self.heads)
        elif form == "gammalearn":
            scale = [1.0] * len(self.heads)
            penalty = [1.0] * len(self.heads)
        else:
            raise ValueError(f"uncertainty weighting form must be 'kendall' or 'gammalearn', got {form!r}")
        self.form = form
        self.log_vars = nn.Parameter(torch.full((len(self.heads),), float(init_log_var)))
        self.register_buffer("loss_scale", torch.tensor(scale))
        self.register_buffer("log_var_scale", torch.tensor(penalty))

    def forward(self, losses: Mapping[str, Tensor], shared_parameters: Sequence[nn.Parameter] | None = None) -> Tensor:
        stacked = self._stack(losses)
        s = self.log_vars.to(stacked)
        return (self.loss_scale.to(stacked) * torch.exp(-s) * stacked + self.log_var_scale.to(stacked) * s).sum()

    def current_weights(self) -> dict[str, float]:
        weights = (self.loss_scale * torch.exp(-self.log_vars.detach())).tolist()
        return dict(zip(self.heads, weights))


@BALANCERS.register("gradnorm")
class GradNorm(TaskBalancer):
    r"""GradNorm (Chen et al. 2018): learn weights ``w_i`` that equalise the heads' training rates.

    Each training step, on the shared parameters ``W`` (the last layer shared by all heads, given by the
    model's ``shared_parameters()``):

    * ``G_i = w_i * ||grad_W L_i||``, ``G_mean = mean_i G_i``;
    * ``r_i = (L_i / L_i(0)) / mean_j (L_j / L_j(0))`` (relative inverse training rate, ``L_i(0)`` the first
      non-zero loss of head ``i``);
    * ``L_grad = sum_i |G_i - stopgrad(G_mean * r_i^alpha)|``.

    The returned total is ``sum_i stopgrad(w_i) L_i + L_grad``: the network receives exactly the gradient of
    ``sum_i w_i L_i`` (``grad_W L_i`` is taken without ``create_graph``, so ``L_grad`` depends only on ``w``)
    and the weights receive only the gradient of ``L_grad``. :meth:`after_optimizer_step` renormalises the
    weights to sum to the number of heads, as in the paper (GammaLearn parametrises ``w = exp(v)`` instead;
    here ``w`` is used directly and clamped to stay positive).

    Out of training (no autograd, or losses without a graph) the total is ``sum_i w_i L_i`` and nothing is
    updated.

    Parameters
    ----------
    alpha
        Restoring-force strength (the paper uses 0.12 to 3; 1.5 is its usual value).
    min_weight
        Floor applied at renormalisation so a weight can never turn negative.
    """

    def __init__(self, heads: Mapping[str, str], alpha: float = 1.5, min_weight: float = 1e-3) -> None:
        super().__init__(heads)
        if alpha < 0:
            raise ValueError(f"GradNorm alpha must be >= 0, got {alpha}")
        if min_weight <= 0:
            raise ValueError(f"GradNorm min_weight must be > 0, got {min_weight}")
        self.alpha = float(alpha)
        self.min_weight = float(min_weight)
        self.weights = nn.Parameter(torch.ones(len(self.heads)))
        # NaN = not recorded yet; a buffer so checkpoints resume with the same reference losses
        self.register_buffer("initial_losses", torch.full((len(self.heads),), float("nan")))
        self.last_gradient_norms: dict[str, float] = {}

    def forward(self, losses: Mapping[str, Tensor], shared_parameters: Sequence[nn.Parameter] | None = None) -> Tensor:
        stacked = self._stack(losses)
        weighted = (self.weights.detach().to(stacked) * stacked).sum()
        if not (torch.is_grad_enabled() and stacked.requires_grad):
            return weighted
        if not shared_parameters:
            raise ValueError(
                "gradnorm needs the model's shared parameters (the model must define shared_parameters())"
            )
        shared = [p for p in shared_parameters if p.requires_grad]
        norms = torch.stack([self._gradient_norm(loss, shared) for loss in stacked])
        detached = stacked.detach()
        self._record_initial_losses(detached)
        # a head with zero loss in this batch (e.g. regression on a batch without gammas) has no gradient to
        # balance: it takes no part in the means and receives no GradNorm gradient
        active = detached > 0
        if not bool(active.any()):
            return weighted
        ratio = detached / self.initial_losses.to(detached)
        ratio = torch.where(torch.isfinite(ratio), ratio, torch.ones_like(ratio))  # no L(0) yet: neutral
        relative_rate = ratio / ratio[active].mean()
        g = self.weights.to(stacked) * norms
        target = (g[active].mean() * relative_rate.pow(self.alpha)).detach()
        gradnorm_loss = (g - target).abs()[active].sum()
        self.last_gradient_norms = dict(zip(self.heads, g.detach().tolist()))
        return weighted + gradnorm_loss

    @staticmethod
    def _gradient_norm(loss: Tensor, shared: Sequence[nn.Parameter]) -> Tensor:
        if not loss.requires_grad:  # e.g. a head whose loss is a constant zero in this batch
            return loss.new_zeros(())
        grads = torch.autograd.grad(loss, shared, retain_graph=True, allow_unused=True)
        squares = [g.pow(2).sum() for g in grads if g is not None]
        return torch.sqrt(torch.stack(squares).sum()) if squares else loss.new_zeros(())

    @torch.no_grad()
    def _record_initial_losses(self, losses: Tensor) -> None:
        unset = torch.isnan(self.initial_losses) & (losses > 0)
        self.initial_losses[unset] = losses[unset].to(self.initial_losses)

    @torch.no_grad()
    def after_optimizer_step(self) -> None:
        self.weights.clamp_(min=self.min_weight)
        self.weights.mul_(len(self.heads) / self.weights.sum())

    def current_weights(self) -> dict[str, float]:
        return dict(zip(self.heads, self.weights.detach().tolist()))
