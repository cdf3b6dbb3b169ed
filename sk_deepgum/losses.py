"""Element-wise regression criteria for the network estimators.

Every criterion maps ``(y_pred, y_true)`` of shape (B, D) to an element-wise loss of the
same shape; :class:`sk_deepgum._net.WeightedLoss` applies per-sample weights and
reduces.
"""

from __future__ import annotations

import torch
from torch import nn


class SquaredLoss(nn.Module):
    """Element-wise :math:`\\tfrac12 (y - \\hat y)^2` (plain L2)."""

    def forward(self, y_pred, y_true):
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

    def forward(self, y_pred, y_true):
        residual = y_true - y_pred
        return 0.5 * residual * (residual @ self.precision)


__all__ = ["QuadraticLoss", "SquaredLoss"]
