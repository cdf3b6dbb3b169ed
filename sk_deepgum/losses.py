"""Element-wise regression criteria for the network estimators.

Every criterion maps ``(y_pred, y_true)`` of shape (B, D) to an element-wise loss of the
same shape; :class:`sk_deepgum._net.WeightedLoss` applies per-sample weights and
reduces.
"""

from __future__ import annotations

from torch import nn

from sk_deepgum._net import QuadraticLoss


class SquaredLoss(nn.Module):
    """Element-wise :math:`\\tfrac12 (y - \\hat y)^2` (plain L2)."""

    def forward(self, y_pred, y_true):
        residual = y_true - y_pred
        return 0.5 * residual * residual


__all__ = ["QuadraticLoss", "SquaredLoss"]
