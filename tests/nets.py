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


class BatchNormNet(nn.Module):
    """A backbone with buffers (BatchNorm running statistics, an integer batch
    counter)."""

    def __init__(self, n_inputs, n_outputs):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(n_inputs, 16),
            nn.BatchNorm1d(16),
            nn.Tanh(),
            nn.Linear(16, n_outputs),
        )

    def forward(self, X):
        return self.body(X)
