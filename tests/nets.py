"""Small backbones shared by the test modules (importable, so pickling works)."""

from torch import nn


class TinyNet(nn.Module):
    def __init__(self, n_inputs, n_outputs, hidden=8):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(n_inputs, hidden), nn.Tanh(), nn.Linear(hidden, n_outputs)
        )

    def forward(self, X):
        return self.body(X)
