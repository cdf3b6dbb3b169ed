"""Element-wise regression criteria for the network estimators.

Every criterion maps ``(y_pred, y_true)`` of shape (B, D) to an element-wise loss of the
same shape; :class:`sk_deepgum._training.WeightedLoss` applies per-sample weights and
reduces. It also passes the batch's weights as ``weight`` (B, D): the M-estimators'
batch scale is a weighted statistic, so that an integer weight counts as that many
repeated rows.

The M-estimators (:class:`HuberLoss`, :class:`TukeyLoss`) follow Belagiannis et al.,
"Robust Optimization for Deep Regression", ICCV 2015: residuals are scaled per output
by the batch's median absolute deviation before the robust function is applied.
"""

from __future__ import annotations

import torch
from torch import nn

from sk_deepgum._validation import MAD_TO_SD


class SquaredLoss(nn.Module):
    """Element-wise :math:`\\tfrac12 (y - \\hat y)^2` (plain L2)."""

    def forward(self, y_pred, y_true, weight=None):
        residual = y_true - y_pred
        return 0.5 * residual * residual


class QuadraticLoss(nn.Module):
    """Element-wise ½ e ⊙ (e P): the Mahalanobis-weighted L2 of DeepGUM's M-step.

    Summed over outputs, :math:`\\tfrac12 e^\\top P e` with ``P`` symmetric; ``P =
    I`` (the default) is plain L2. For per-group latents ``P`` is block-diagonal, so
    scaling column ``d`` by its group's responsibility weights each group's block.

    Parameters
    ----------
    n_outputs : int
        Number of outputs D.
    """

    def __init__(self, n_outputs: int):
        super().__init__()
        self.register_buffer("precision", torch.eye(n_outputs))

    def set_precision(self, precision: torch.Tensor) -> None:
        """Replace ``P`` (shape (D, D), symmetric) for the next round."""
        if tuple(precision.shape) != tuple(self.precision.shape):
            raise ValueError(
                f"precision must have shape {tuple(self.precision.shape)}; got "
                f"{tuple(precision.shape)}."
            )
        self.precision.copy_(precision)

    def forward(self, y_pred, y_true, weight=None):
        residual = y_true - y_pred
        return 0.5 * residual * (residual @ self.precision)


MIN_SCALE = 1e-3
"""Floor of the batch scale, in robustly standardised target units: a batch whose
residuals are all equal (MAD 0) must not blow the scaled residuals up to infinity."""


def weighted_median(values: torch.Tensor, weight: torch.Tensor | None = None):
    r"""Per-column weighted median of (B, D) values, shape (1, D).

    With the values of a column sorted, :math:`x_{(1)} \le \dots \le x_{(B)}`, their
    weights' running sums :math:`c_i` and :math:`h = c_B / 2`:

    .. math::

        \operatorname{med} = \tfrac12 \bigl(x_{(\min\{i : c_i \ge h\})}
            + x_{(\min\{i : c_i > h\})}\bigr)

    the mean of the lower and upper weighted medians. With integer weights it is
    ``np.median`` of the rows repeated that many times (an even count takes the mean
    of the two middle values); without weights, ``np.median``.

    Parameters
    ----------
    values : Tensor of shape (B, D)
        Values, one column per output.
    weight : Tensor of shape (B, D) or None, default=None
        Non-negative weights of the values (None: all equal).

    Returns
    -------
    Tensor of shape (1, D)
        The weighted median of every column.
    """
    if weight is None:
        weight = torch.ones_like(values)
    n = values.shape[0]
    ordered, order = values.sort(dim=0)
    running = weight.gather(0, order).cumsum(0)
    half = 0.5 * running[-1:]
    lower = (running < half).sum(0, keepdim=True).clamp_max(n - 1)
    upper = (running <= half).sum(0, keepdim=True).clamp_max(n - 1)
    return 0.5 * (ordered.gather(0, lower) + ordered.gather(0, upper))


def batch_mad_scale(
    residual: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    r"""Per-output robust scale of a batch of residuals, without gradient.

    .. math::

        s_d = \max\bigl(1.4826 \cdot \operatorname{med}_n |r_{nd} -
        \operatorname{med}_m r_{md}|,\; 10^{-3}\bigr)

    with the weighted medians of :func:`weighted_median`.

    Parameters
    ----------
    residual : Tensor of shape (B, D)
        Residuals ``y - y_pred`` of one batch.
    weight : Tensor of shape (B, D) or None, default=None
        Non-negative weights of the residuals (None: all equal).

    Returns
    -------
    Tensor of shape (1, D)
        The scale, detached: like Belagiannis et al., the scale is a statistic of the
        batch, not something the network can shrink to lower its loss.
    """
    r = residual.detach()
    w = None if weight is None else weight.detach()
    centre = weighted_median(r, w)
    mad = weighted_median((r - centre).abs(), w)
    return (MAD_TO_SD * mad).clamp_min(MIN_SCALE)


class HuberLoss(nn.Module):
    r"""Huber's loss on MAD-scaled residuals.

    With :math:`u = r / s` (``s`` from :func:`batch_mad_scale`),

    .. math::

        \ell(r) = s^2 \rho(u), \qquad
        \rho(u) = \begin{cases} \tfrac12 u^2 & |u| \le \delta \\
        \delta (|u| - \tfrac12 \delta) & |u| > \delta \end{cases}

    so that inside the quadratic zone the loss equals :class:`SquaredLoss`; the
    gradient is :math:`s \psi(u)` with :math:`\psi(u) = \operatorname{clip}(u,
    -\delta, \delta)`, bounded by :math:`\delta s`.

    Parameters
    ----------
    delta : float, default=1.345
        Threshold in MAD units; 1.345 gives 95 % efficiency at the Gaussian.

    Examples
    --------
    >>> import torch
    >>> from sk_deepgum.losses import HuberLoss
    >>> y_true = torch.tensor([[0.0], [0.1], [-0.1], [0.2], [9.0]])
    >>> loss = HuberLoss()(torch.zeros(5, 1), y_true)
    >>> loss.shape, bool(loss[4] < 0.5 * 9.0**2)
    (torch.Size([5, 1]), True)
    """

    def __init__(self, delta: float = 1.345):
        super().__init__()
        self.delta = delta

    def forward(self, y_pred, y_true, weight=None):
        residual = y_true - y_pred
        scale = batch_mad_scale(residual, weight)
        u = (residual / scale).abs()
        rho = torch.where(
            u <= self.delta,
            0.5 * u * u,
            self.delta * (u - 0.5 * self.delta),
        )
        return scale * scale * rho


class TukeyLoss(nn.Module):
    r"""Tukey's biweight on MAD-scaled residuals, with Belagiannis et al.'s warm-up.

    With :math:`u = r / s`,

    .. math::

        \ell(r) = s^2 \rho(u), \qquad
        \rho(u) = \begin{cases} \frac{c^2}{6}\bigl[1 - (1 - (u/c)^2)^3\bigr] &
        |u| \le c \\ \frac{c^2}{6} & |u| > c \end{cases}

    whose gradient :math:`s\,u (1 - (u/c)^2)^2` vanishes beyond ``c``: residuals
    further than ``c`` MADs are ignored. Near 0, :math:`\rho(u) \approx \tfrac12
    u^2`, so small residuals are treated as by L2.

    Warm-up (kept from Belagiannis et al., 2015): early in training most residuals lie
    beyond ``c`` and would get no gradient at all, so while fewer than
    ``warm_up_inside`` of a batch's residuals are inside ``c`` MADs, the scale is
    multiplied by ``warm_up_factor``. The first batch that meets the share ends the
    warm-up for the rest of the fit (reset with :meth:`reset`). When the outliers
    alone exceed ``1 - warm_up_inside`` of the data, the warm-up never ends: the
    loss then behaves as a biweight seven times wider.

    Parameters
    ----------
    c : float, default=4.685
        Rejection point in MAD units; 4.685 gives 95 % efficiency at the Gaussian.
    warm_up_factor : float, default=7.0
        Scale multiplier during the warm-up (1 disables it).
    warm_up_inside : float, default=0.7
        Share of residuals within ``c`` scaled MADs that ends the warm-up (weighted
        by the batch's sample weights).

    Examples
    --------
    >>> import torch
    >>> from sk_deepgum.losses import TukeyLoss
    >>> y_true = torch.tensor([[0.0], [0.1], [-0.1], [0.2], [9.0]])
    >>> y_pred = torch.zeros(5, 1, requires_grad=True)
    >>> TukeyLoss()(y_pred, y_true).sum().backward()
    >>> bool(y_pred.grad[4, 0] == 0)  # the gross residual is ignored
    True
    """

    def __init__(
        self, c: float = 4.685, warm_up_factor: float = 7.0, warm_up_inside=0.7
    ):
        super().__init__()
        self.c = c
        self.warm_up_factor = warm_up_factor
        self.warm_up_inside = warm_up_inside
        self.warming_up = True

    def reset(self) -> None:
        """Start a new fit in the warm-up phase."""
        self.warming_up = True

    def forward(self, y_pred, y_true, weight=None):
        residual = y_true - y_pred
        scale = batch_mad_scale(residual, weight)
        if self.warming_up:
            inside = (residual.detach().abs() <= self.c * scale).to(residual.dtype)
            if weight is None:
                inside = inside.mean()
            else:
                w = weight.detach()
                inside = (inside * w).sum() / w.sum().clamp_min(
                    torch.finfo(w.dtype).tiny
                )
            if inside >= self.warm_up_inside:
                self.warming_up = False
            else:
                scale = scale * self.warm_up_factor
        v = (residual / (self.c * scale)).clamp(-1.0, 1.0)
        rho = (self.c * self.c / 6.0) * (1.0 - (1.0 - v * v) ** 3)
        return scale * scale * rho


__all__ = [
    "HuberLoss",
    "QuadraticLoss",
    "SquaredLoss",
    "TukeyLoss",
    "batch_mad_scale",
    "weighted_median",
]
