"""precision_shrinkage: how DeepGUMRegressor's loss weights the outputs."""

import numpy as np
import pytest
import torch

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.mixture import GUMParams, check_groups, make_grouping
from sk_deepgum.regressor import loss_precision

FAST = dict(max_epochs=6, warm_up_epochs=1, random_state=0)


def params_with(covariances, n_groups, n_outputs):
    return GUMParams(
        inlier_prior=torch.full((n_groups,), 0.9, dtype=torch.float64),
        means=torch.zeros(n_outputs, dtype=torch.float64),
        covariances=covariances,
        uniform_log_density=torch.zeros(n_groups, dtype=torch.float64),
        uniform_bounds=torch.zeros((n_outputs, 2), dtype=torch.float64),
    )


def expected_precision(sigma, shrinkage):
    """P = Σ_λ⁻¹ / mean(diag Σ_λ⁻¹), Σ_λ = (1 − λ) Σ + λ mean(diag Σ) I."""
    shrunk = (1 - shrinkage) * sigma + shrinkage * np.trace(sigma) / len(sigma) * (
        np.eye(len(sigma))
    )
    precision = np.linalg.inv(shrunk)
    return precision / np.diag(precision).mean()


@pytest.mark.parametrize("shrinkage", [0.0, 0.5, 1.0])
def test_formula_diag_spherical_full(shrinkage):
    groups = check_groups([[0, 1], [2]], 3)
    grouping = make_grouping(groups)
    var = torch.tensor([0.5, 2.0, 8.0], dtype=torch.float64)
    got = loss_precision(params_with(var, 2, 3), grouping, "diag", 3, shrinkage)
    np.testing.assert_allclose(
        got.numpy(), expected_precision(np.diag(var.numpy()), shrinkage)
    )

    group_var = torch.tensor([1.0, 4.0], dtype=torch.float64)
    got = loss_precision(
        params_with(group_var, 2, 3), grouping, "spherical", 3, shrinkage
    )
    np.testing.assert_allclose(
        got.numpy(), expected_precision(np.diag([1.0, 1.0, 4.0]), shrinkage)
    )

    block = torch.tensor([[1.0, 0.6], [0.6, 2.0]], dtype=torch.float64)
    full = [block, torch.tensor([[5.0]], dtype=torch.float64)]
    sigma = np.zeros((3, 3))
    sigma[:2, :2], sigma[2, 2] = block.numpy(), 5.0
    got = loss_precision(params_with(full, 2, 3), grouping, "full", 3, shrinkage)
    np.testing.assert_allclose(got.numpy(), expected_precision(sigma, shrinkage))


@pytest.mark.parametrize("shrinkage", [0.0, 0.5])
def test_formula_full_with_one_group(shrinkage):
    """One latent for all outputs (``groups=None``): one full block."""
    grouping = make_grouping(check_groups(None, 2))
    block = torch.tensor([[1.0, 0.6], [0.6, 2.0]], dtype=torch.float64)
    got = loss_precision(params_with([block], 1, 2), grouping, "full", 2, shrinkage)
    np.testing.assert_allclose(
        got.numpy(), expected_precision(block.numpy(), shrinkage)
    )


def two_outputs_with_unequal_noise():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(200, 2))
    y = np.column_stack(
        [X[:, 0] + 0.02 * rng.normal(size=200), X[:, 1] + 1.0 * rng.normal(size=200)]
    )
    return X, y


def output_weight_ratio(model):
    """Loss weight of the precise output over that of the noisy one."""
    precision = model.net_.criterion_.criterion.precision.diagonal()
    return float(precision[0] / precision[1])


def test_shrinkage_pulls_the_output_weights_together():
    X, y = two_outputs_with_unequal_noise()
    ratios = [
        output_weight_ratio(DeepGUMRegressor(precision_shrinkage=s, **FAST).fit(X, y))
        for s in (0.0, 0.5, 1.0)
    ]
    assert ratios[0] > ratios[1] > ratios[2]
    assert ratios[0] > 5  # the paper's weighting: inverse variances
    assert ratios[2] == pytest.approx(1.0)  # equal weights


def test_no_effect_with_one_output():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(120, 2))
    y = np.sin(3 * X[:, 0]) + 0.1 * rng.normal(size=120)
    y[:12] = rng.uniform(-4, 4, size=12)
    paper = DeepGUMRegressor(precision_shrinkage=0.0, **FAST).fit(X, y)
    equal = DeepGUMRegressor(precision_shrinkage=1.0, **FAST).fit(X, y)
    np.testing.assert_array_equal(paper.predict(X), equal.predict(X))
    np.testing.assert_array_equal(paper.outlier_scores_, equal.outlier_scores_)


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_out_of_range_is_refused(value):
    X, y = two_outputs_with_unequal_noise()
    with pytest.raises(ValueError, match="precision_shrinkage"):
        DeepGUMRegressor(precision_shrinkage=value, **FAST).fit(X, y)


def test_default_shrinkage_is_the_papers_precision():
    sigma = np.diag([1.0, 4.0])
    grouping = make_grouping(check_groups(None, 2))
    params = params_with(torch.tensor(np.diag(sigma)), 1, 2)
    np.testing.assert_allclose(
        loss_precision(params, grouping, "diag", 2).numpy(),
        expected_precision(sigma, 0.0),
    )
