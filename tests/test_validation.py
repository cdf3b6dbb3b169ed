"""Bad input gets a ValueError or TypeError that names the problem (_validation.py
and the checks of fit and predict), never a NaN model.

Every estimator of the package, through its public API: bad arrays, weights and
shapes at fit and predict, groups that do not partition the outputs, a backbone whose
output does not fit y, a diverging fit, a CUDA device where there is none.
"""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from conftest import FACTORIES, NET_NAMES, make_data
from torch import nn

from sk_deepgum import GaussianUniformMixture
from sk_deepgum.baselines import RobustNetRegressor

TINY = {"module__hidden_layer_sizes": (8,), "random_state": 0}


@pytest.fixture(scope="module")
def data():
    return make_data()


@pytest.fixture(scope="module", params=NET_NAMES)
def fitted_net(request, data):
    X, y = data
    return FACTORIES[request.param]().fit(X, y)


class WrongWidth(nn.Module):
    """Returns two outputs per sample, whatever y is."""

    def __init__(self, n_inputs):
        super().__init__()
        self.linear = nn.Linear(n_inputs, 2)

    def forward(self, X):
        return self.linear(X)


class Squeezed(nn.Module):
    """Returns (batch,) instead of (batch, 1)."""

    def __init__(self, n_inputs):
        super().__init__()
        self.linear = nn.Linear(n_inputs, 1)

    def forward(self, X):
        return self.linear(X)[:, 0]


def _with(array, index, value):
    out = np.array(array, dtype=np.result_type(array, type(value)))
    out[index] = value
    return out


BAD_FIT_INPUTS = {
    # case: (X, y, sample_weight) transform, exception, message
    "nan_X": (lambda X, y: (_with(X, (0, 0), np.nan), y, None), ValueError, "NaN"),
    "inf_X": (lambda X, y: (_with(X, (1, 2), np.inf), y, None), ValueError, "infinity"),
    "nan_y": (
        lambda X, y: (X, _with(y, 3, np.nan), None),
        ValueError,
        "y contains NaN",
    ),
    "inf_y": (
        lambda X, y: (X, _with(y, 3, -np.inf), None),
        ValueError,
        "y contains infinity",
    ),
    "nan_weight": (
        lambda X, y: (X, y, _with(np.ones(len(y)), 0, np.nan)),
        ValueError,
        "sample_weight contains NaN",
    ),
    "inf_weight": (
        lambda X, y: (X, y, _with(np.ones(len(y)), 0, np.inf)),
        ValueError,
        "sample_weight contains infinity",
    ),
    "negative_weight": (
        lambda X, y: (X, y, _with(np.ones(len(y)), 0, -1.0)),
        ValueError,
        "Negative values .* `sample_weight`",
    ),
    "all_zero_weight": (
        lambda X, y: (X, y, np.zeros(len(y))),
        ValueError,
        "at least one non-zero",
    ),
    "weight_length": (
        lambda X, y: (X, y, np.ones(len(y) - 1)),
        ValueError,
        r"sample_weight.shape == \(59,\), expected \(60,\)",
    ),
    "empty": (
        lambda X, y: (X[:0], y[:0], None),
        ValueError,
        r"0 sample\(s\)",
    ),
    "complex_X": (lambda X, y: (X + 1j, y, None), ValueError, "Complex data"),
    "complex_y": (lambda X, y: (X, y + 1j, None), ValueError, "Complex data"),
    "string_X": (
        lambda X, y: (np.full(X.shape, "a"), y, None),
        ValueError,
        "could not convert string to float",
    ),
    "string_y": (
        lambda X, y: (X, np.full(y.shape, "a"), None),
        ValueError,
        "could not convert string to float",
    ),
    "sparse_X": (lambda X, y: (sp.csr_matrix(X), y, None), TypeError, "(?i)sparse"),
    "length_mismatch": (
        lambda X, y: (X, y[:-1], None),
        ValueError,
        r"inconsistent numbers of samples: \[60, 59\]",
    ),
    "one_sample": (lambda X, y: (X[:1], y[:1], None), ValueError, "n_samples=1"),
}


@pytest.mark.parametrize("case", sorted(BAD_FIT_INPUTS))
@pytest.mark.parametrize("name", NET_NAMES)
def test_bad_fit_input_is_named(name, case, data):
    make, error, message = BAD_FIT_INPUTS[case]
    X, y, sample_weight = make(*data)
    with pytest.raises(error, match=message):
        FACTORIES[name]().fit(X, y, sample_weight=sample_weight)


BAD_MIXTURE_INPUTS = {
    "nan": (lambda X: (_with(X, (0, 0), np.nan), None), ValueError, "NaN"),
    "inf": (lambda X: (_with(X, (0, 1), np.inf), None), ValueError, "infinity"),
    "nan_weight": (
        lambda X: (X, _with(np.ones(len(X)), 2, np.nan)),
        ValueError,
        "sample_weight contains NaN",
    ),
    "negative_weight": (
        lambda X: (X, _with(np.ones(len(X)), 2, -0.5)),
        ValueError,
        "Negative values",
    ),
    "all_zero_weight": (
        lambda X: (X, np.zeros(len(X))),
        ValueError,
        "at least one non-zero",
    ),
    "empty": (lambda X: (X[:0], None), ValueError, r"0 sample\(s\)"),
    "complex": (lambda X: (X + 1j, None), ValueError, "Complex data"),
    "string": (
        lambda X: (np.full(X.shape, "a"), None),
        ValueError,
        "could not convert string",
    ),
    "sparse": (lambda X: (sp.csr_matrix(X), None), TypeError, "(?i)sparse"),
    "weight_length": (
        lambda X: (X, np.ones(len(X) + 1)),
        ValueError,
        r"sample_weight.shape",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_MIXTURE_INPUTS))
def test_bad_mixture_input_is_named(case):
    X = np.random.default_rng(1).normal(size=(40, 2))
    make, error, message = BAD_MIXTURE_INPUTS[case]
    X_bad, sample_weight = make(X)
    with pytest.raises(error, match=message):
        GaussianUniformMixture().fit(X_bad, sample_weight=sample_weight)


def test_bad_predict_input_is_named(fitted_net, data):
    X, y = data
    name = type(fitted_net).__name__
    with pytest.raises(
        ValueError, match=f"X has 2 features, but {name} is expecting 3"
    ):
        fitted_net.predict(X[:, :2])
    with pytest.raises(ValueError, match="NaN"):
        fitted_net.predict(_with(X, (0, 0), np.nan))
    with pytest.raises(TypeError, match="(?i)sparse"):
        fitted_net.predict(sp.csr_matrix(X))
    with pytest.raises(ValueError, match="Complex data"):
        fitted_net.predict(X + 1j)


def test_wrong_image_shape_at_predict_is_named():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 2, 3))
    y = X[:, 0, 0]
    model = RobustNetRegressor(max_epochs=1, **TINY).fit(X, y)
    assert model.input_shape_ == (2, 3)
    # Same n_features_in_ (X.shape[1] == 2), different sample shape.
    with pytest.raises(ValueError, match=r"sample shape \(2, 4\).*\(2, 3\)"):
        model.predict(rng.normal(size=(5, 2, 4)))


def test_bad_mixture_predict_input_is_named():
    X = np.random.default_rng(1).normal(size=(40, 2))
    gum = GaussianUniformMixture().fit(X)
    with pytest.raises(ValueError, match="X has 3 features"):
        gum.predict_proba(np.c_[X, X[:, :1]])
    with pytest.raises(ValueError, match="NaN"):
        gum.score_samples(_with(X, (0, 0), np.nan))


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ([[0, 1], [1, 2]], r"columns \[1\] appear more than once"),
        ([[0], [2]], r"columns \[1\] are in no group"),
        ([[0, 1, 2, 3]], r"groups name columns \[3\]"),
    ],
)
def test_regressor_groups_must_partition_the_outputs(groups, message, data):
    X, y = data
    Y = np.c_[y, -y, 2 * y]
    with pytest.raises(ValueError, match=message):
        FACTORIES["DeepGUM"](groups=groups).fit(X, Y)


@pytest.mark.parametrize("backbone", [WrongWidth, Squeezed])
@pytest.mark.parametrize("name", NET_NAMES)
def test_backbone_output_shape_must_match_y(name, backbone, data):
    X, y = data
    got = r"\(2, 2\)" if backbone is WrongWidth else r"\(2,\)"
    message = rf"returns shape {got} .* must return .* = \(2, 1\)"
    with pytest.raises(ValueError, match=message):
        FACTORIES[name](module=backbone).fit(X, y)


@pytest.mark.parametrize("name", NET_NAMES)
def test_diverging_training_loss_says_what_to_try(name, data):
    X, y = data
    message = (
        r"non-finite \(\S+\) at epoch 1; try a smaller lr, a smaller batch-size "
        r"variance \(larger batch_size\) or standardised inputs\.$"
    )
    with pytest.raises(FloatingPointError, match=message):
        FACTORIES[name](lr=1e30).fit(X, y)


def test_diverging_mixture_says_what_to_try():
    X = np.random.default_rng(3).normal(size=(50, 2)) * 1e300
    with pytest.raises(FloatingPointError, match="rescale it"):
        GaussianUniformMixture().fit(X)


@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
@pytest.mark.parametrize("name", NET_NAMES)
def test_cuda_without_cuda_is_a_clear_error(name, device, data, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X, y = data
    with pytest.raises(ValueError, match="CUDA is not available.*device='cpu'"):
        FACTORIES[name](device=device).fit(X, y)
