"""What several test modules share: small backbones, small network estimators, data
builders and fixtures, and ``free_port`` for the torch.distributed tests.

The map from package module to test file is in tests/README.md.

Test modules import the classes and helpers here by name (``from conftest import
TinyNet``): pytest's default import mode (prepend) puts this directory on
``sys.path`` and registers this file as the module ``conftest``. The backbones must
live in a module importable by a stable name, because pickling a model pickles its
backbone class by reference (``conftest.TinyNet``): the persistence tests unpickle
in this process, and the grid search (loky workers) and the data-parallel tests
(``torch.multiprocessing.spawn``) rebuild them in child processes, which inherit
this ``sys.path``.
"""

import socket
import time

import numpy as np
import pytest
from torch import nn

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.baselines import RobustNetRegressor

# ---------------------------------------------------------------------------
# Backbones


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


# ---------------------------------------------------------------------------
# Small network estimators, a few epochs of an 8-unit MLP (unless a test brings its
# own backbone), seeded: test_validation, test_reliability, test_persistence


def _tiny(defaults, kw):
    # A small default MLP unless the test brings its own backbone.
    mlp = {} if "module" in kw else {"module__hidden_layer_sizes": (8,)}
    return {**defaults, **mlp, "random_state": 0, **kw}


def deepgum(**kw):
    """DeepGUMRegressor: 3 epochs, 1 of them warm-up; ``kw`` overrides."""
    return DeepGUMRegressor(**_tiny({"max_epochs": 3, "warm_up_epochs": 1}, kw))


def robustnet(**kw):
    """RobustNetRegressor: 2 epochs; ``kw`` overrides."""
    return RobustNetRegressor(**_tiny({"max_epochs": 2}, kw))


FACTORIES = {"DeepGUM": deepgum, "RobustNet": robustnet}
NET_NAMES = sorted(FACTORIES)


# ---------------------------------------------------------------------------
# Data


class CountingNet(nn.Module):
    """A linear backbone that counts its forward calls in training mode (SGD
    batches) and in eval mode (the passes over the rows that give residuals), each
    sleeping ``CountingNet.delay`` seconds. The 2-row probe of the output shape at
    set-up neither counts nor sleeps. Reset ``calls`` before a fit."""

    calls = {"train": 0, "eval": 0}
    delay = 0.0

    def __init__(self, n_inputs, n_outputs):
        super().__init__()
        self.linear = nn.Linear(n_inputs, n_outputs)

    def forward(self, X):
        if len(X) > 2:
            CountingNet.calls["train" if self.training else "eval"] += 1
            time.sleep(CountingNet.delay)
        return self.linear(X)


# test_validation, test_reliability, test_timing, regressor/test_regressor
def make_data(n=60, n_features=3, seed=0):
    """A clean linear table: y = x0 - 0.5 x1 plus noise of sd 0.1."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    y = X[:, 0] - 0.5 * X[:, 1] + 0.1 * rng.normal(size=n)
    return X, y


# test_training, base/test_training_budget
def table(n_rows, seed=0):
    """A clean linear table: 3 standard-normal features, y = X (1, -2, 0.5) plus
    noise of sd 0.1."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, 3))
    return X, X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=n_rows)


# test_target_scaling, test_losses, base/test_sample_weight
@pytest.fixture(scope="module")
def weighted_rows():
    """(X, y, weights): 13 rows, 2 targets (one heavy-tailed, one skewed), integer
    weights with zeros, for the weighted-equals-repeated-rows tests."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(13, 3))
    y = np.c_[X[:, 0] + rng.standard_t(2, size=13), rng.exponential(size=13)]
    weights = np.array([0, 1, 4, 2, 1, 3, 0, 1, 1, 5, 2, 1, 1])
    return X, y, weights


# Rows for the EM tests (test_em.py, test_gum_math.py).
EM_ROWS = 301
EM_CHUNK = 37  # 301 = 8 * 37 + 5: nine chunks, the last one short


def em_rows(n_rows=EM_ROWS):
    """(X, w): 3 columns of Gaussian inliers around 0.3, a quarter of the rows
    uniform outliers, weights in [0.5, 2] except the first 40 rows', which are 0."""
    rng = np.random.default_rng(0)
    X = rng.normal(loc=0.3, scale=[1.0, 0.5, 2.0], size=(n_rows, 3))
    outliers = rng.random(n_rows) < 0.25
    X[outliers] = rng.uniform(-15, 15, size=(outliers.sum(), 3))
    w = rng.uniform(0.5, 2.0, size=n_rows)
    w[:40] = 0.0  # the whole first chunk of 37 rows carries no weight
    return X, w


# ---------------------------------------------------------------------------
# torch.distributed


def free_port() -> int:
    """A port the OS reports free on 127.0.0.1 (released again before returning),
    for the rendezvous of spawned torch.distributed test processes."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
