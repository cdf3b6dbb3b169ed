"""Values and gradients of the element-wise criteria, and the baselines using them;
with integer sample weights, the batch scale (a weighted median and MAD) and the
losses of the repeated rows."""

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from sk_deepgum.baselines import RobustNetRegressor
from sk_deepgum.datasets import make_contaminated_regression
from sk_deepgum.losses import (
    HuberLoss,
    QuadraticLoss,
    SquaredLoss,
    TukeyLoss,
    batch_mad_scale,
)


def _batch(seed=0, rows=64, cols=3):
    g = torch.Generator().manual_seed(seed)
    y_true = torch.randn(rows, cols, generator=g, dtype=torch.float64)
    y_pred = torch.randn(rows, cols, generator=g, dtype=torch.float64) * 0.3
    y_pred[:5] += 20.0  # a few gross residuals
    return y_pred.requires_grad_(), y_true


def test_batch_mad_scale_matches_numpy_and_is_detached():
    y_pred, y_true = _batch()
    r = (y_true - y_pred).detach().numpy()
    # An even batch: the median is the mean of the two middle values, as numpy's.
    expected = 1.4826 * np.median(np.abs(r - np.median(r, axis=0)), axis=0)
    scale = batch_mad_scale(torch.as_tensor(r))
    np.testing.assert_allclose(scale.numpy().ravel(), expected, rtol=1e-12)
    assert not batch_mad_scale(y_true - y_pred).requires_grad


def test_batch_mad_scale_is_floored_on_a_constant_batch():
    assert batch_mad_scale(torch.ones(8, 2)).min().item() == pytest.approx(1e-3)


def test_huber_equals_torch_huber_with_threshold_delta_times_scale():
    y_pred, y_true = _batch()
    scale = batch_mad_scale(y_true - y_pred)
    ours = HuberLoss()(y_pred, y_true)
    # torch's delta is a scalar: check column by column with delta = 1.345 s_d.
    for d in range(y_true.shape[1]):
        reference = F.huber_loss(
            y_pred[:, d],
            y_true[:, d],
            reduction="none",
            delta=1.345 * scale[0, d].item(),
        )
        torch.testing.assert_close(ours[:, d], reference)


def test_huber_gradient_is_scale_times_clipped_scaled_residual():
    y_pred, y_true = _batch()
    HuberLoss()(y_pred, y_true).sum().backward()
    r = (y_true - y_pred).detach()
    s = batch_mad_scale(r)
    expected = -s * (r / s).clamp(-1.345, 1.345)
    torch.testing.assert_close(y_pred.grad, expected)
    assert y_pred.grad.abs().max() <= 1.345 * s.max() + 1e-12


def test_huber_and_tukey_reduce_to_l2_for_small_residuals():
    y_true = torch.linspace(-1, 1, 101, dtype=torch.float64)[:, None]
    y_pred = (
        y_true + 1e-4 * torch.sin(torch.arange(101.0, dtype=torch.float64))[:, None]
    )
    l2 = SquaredLoss()(y_pred, y_true)
    torch.testing.assert_close(HuberLoss()(y_pred, y_true), l2)
    tukey = TukeyLoss(warm_up_factor=1.0)(y_pred, y_true)
    torch.testing.assert_close(tukey, l2, rtol=1e-3, atol=1e-15)


def test_tukey_value_and_gradient_formulas_without_warm_up():
    y_pred, y_true = _batch(seed=1)
    loss = TukeyLoss(warm_up_factor=1.0)
    value = loss(y_pred, y_true)
    value.sum().backward()
    r = (y_true - y_pred).detach()
    s = batch_mad_scale(r)
    u = r / s
    c = 4.685
    inside = u.abs() <= c
    rho = torch.where(inside, c**2 / 6 * (1 - (1 - (u / c) ** 2) ** 3), c**2 / 6)
    torch.testing.assert_close(value.detach(), s**2 * rho)
    psi = torch.where(inside, u * (1 - (u / c) ** 2) ** 2, torch.zeros_like(u))
    torch.testing.assert_close(y_pred.grad, -s * psi)
    # The gross residuals are rejected: no gradient at all.
    assert torch.all(y_pred.grad[:5] == 0)


def test_tukey_warm_up_widens_the_scale_until_enough_residuals_are_inside():
    g = torch.Generator().manual_seed(2)
    y_true = torch.zeros(100, 1, dtype=torch.float64)
    # 40 % of the residuals far away: under 70 % inside c MADs -> warm-up scale
    # (x7). (At exactly half, the median falls in the gap between the two groups.)
    spread = torch.cat([0.1 * torch.randn(60, 1, generator=g), 50 + torch.rand(40, 1)])
    y_pred = spread.double().requires_grad_()
    loss = TukeyLoss()
    loss(y_pred, y_true).sum().backward()
    r = -y_pred.detach()
    s = 7 * batch_mad_scale(r)
    v = r / (4.685 * s)
    expected = -s * 4.685 * v.clamp(-1, 1) * (1 - v.clamp(-1, 1) ** 2) ** 2
    expected[v.abs() > 1] = 0
    torch.testing.assert_close(y_pred.grad, expected)
    assert loss.warming_up
    # A clean batch ends the warm-up for good, even if a bad batch follows.
    clean = (0.1 * torch.randn(100, 1, generator=g)).double()
    loss(clean, y_true)
    assert not loss.warming_up
    loss(y_pred.detach(), y_true)
    assert not loss.warming_up
    loss.reset()
    assert loss.warming_up


def test_tukey_warm_up_share_with_unit_weights_is_the_unweighted_share():
    """The share of residuals inside c MADs is a weighted mean: unit weights (the
    network estimators pass every row's weight) decide as no weights do."""
    g = torch.Generator().manual_seed(2)
    y_true = torch.zeros(100, 1, dtype=torch.float64)
    spread = torch.cat([0.1 * torch.randn(60, 1, generator=g), 50 + torch.rand(40, 1)])
    y_pred = spread.double()
    unweighted, weighted = TukeyLoss(), TukeyLoss()
    expected = unweighted(y_pred, y_true)
    got = weighted(y_pred, y_true, weight=torch.ones(100, 1, dtype=torch.float64))
    assert unweighted.warming_up and weighted.warming_up  # 60 % inside < 70 %
    torch.testing.assert_close(got, expected)


@pytest.mark.parametrize("loss", ["huber", "tukey"])
def test_robust_losses_beat_l2_on_gross_outliers(loss):
    X, y, mask = make_contaminated_regression(
        n_samples=300, n_features=2, outlier_rate=0.2, noise=0.05, random_state=0
    )
    X_test, y_test, _ = make_contaminated_regression(
        n_samples=300, n_features=2, outlier_rate=0.0, noise=0.0, random_state=1
    )

    def rmse(name):
        model = RobustNetRegressor(loss=name, max_epochs=30, random_state=0)
        return np.sqrt(np.mean((model.fit(X, y).predict(X_test) - y_test) ** 2))

    assert rmse(loss) < 0.5 * rmse("l2")


def test_tukey_fits_start_in_warm_up_each_time():
    X, y, _ = make_contaminated_regression(
        n_samples=100, n_features=2, outlier_rate=0.2, random_state=0
    )
    model = RobustNetRegressor(loss="tukey", max_epochs=2, random_state=0)
    first = model.fit(X, y).predict(X)
    second = model.fit(X, y).predict(X)
    np.testing.assert_array_equal(first, second)


def test_tukey_is_even_and_flat_beyond_c_on_both_sides():
    """The biweight is symmetric: flipping every residual's sign leaves the loss
    unchanged, and every residual beyond c scaled MADs, positive or negative, costs
    exactly s^2 c^2 / 6 (its gradient is 0: the residual is rejected).

    A loss that kept growing on one side would let gross outliers of that sign pull
    the fit again.
    """
    g = torch.Generator().manual_seed(3)
    residual = torch.randn(40, 2, generator=g, dtype=torch.float64)
    residual[:4] = 30.0  # gross residuals of both signs
    residual[4:8] = -30.0
    zeros = torch.zeros_like(residual)
    loss = TukeyLoss(warm_up_factor=1.0)
    value = loss(zeros, residual)
    torch.testing.assert_close(loss(zeros, -residual), value, rtol=1e-15, atol=0)
    s = batch_mad_scale(residual)
    assert bool((30.0 > 4.685 * s).all())
    flat = (s**2 * 4.685**2 / 6).expand(8, 2)
    torch.testing.assert_close(value[:8], flat, rtol=1e-15, atol=0)


def test_tukey_warm_up_ends_when_exactly_the_share_is_inside():
    """The warm-up ends on the first batch whose share of residuals within c scaled
    MADs *meets* warm_up_inside: here exactly 7 of 10 (0.7) are inside.

    Median 0.15 and MAD 0.3, so c s = 4.685 x 1.4826 x 0.3 (about 2.1): the seven
    small residuals are inside, the three near 100 outside.
    """
    small = [-0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3]
    residual = torch.tensor(small + [100.0, 101.0, 102.0], dtype=torch.float64)
    residual = residual[:, None]
    s = 1.4826 * np.median(np.abs(residual.numpy() - np.median(residual.numpy())))
    loss = TukeyLoss()
    value = loss(torch.zeros_like(residual), residual)
    assert not loss.warming_up
    # This batch already uses the unwidened scale: the far residuals cost s^2 c^2/6.
    np.testing.assert_allclose(value[7:].numpy(), s**2 * 4.685**2 / 6, rtol=1e-12)


def test_residual_exactly_c_scaled_mads_away_counts_as_inside():
    """The warm-up counts |r| <= c s as inside (the biweight's support is closed:
    rho reaches its plateau c^2/6 exactly at |u| = c).

    Median 0 and MAD 1, so s = 1.4826 and the four residuals at +-4.685 x 1.4826
    sit exactly on the boundary: all 10 residuals are inside (share 1, the warm-up
    ends); counted outside, the share would be 0.6 < 0.7.
    """
    edge = 4.685 * 1.4826
    values = [-edge, -edge, -1.0, -1.0, 0.0, 0.0, 1.0, 1.0, edge, edge]
    residual = torch.tensor(values, dtype=torch.float64)[:, None]
    assert batch_mad_scale(residual).item() == 1.4826
    loss = TukeyLoss()
    loss(torch.zeros_like(residual), residual)
    assert not loss.warming_up


def test_quadratic_loss_takes_a_new_precision_for_the_next_round():
    """½ e ⊙ (e P) with the P given to set_precision, written out per element; a P
    of another shape is refused, naming both shapes, and leaves the old one."""
    loss = QuadraticLoss(2)
    y_pred = torch.tensor([[0.5, -1.0], [2.0, 0.0]])
    y_true = torch.tensor([[1.5, 1.0], [0.0, 0.5]])
    e = (y_true - y_pred).numpy()
    torch.testing.assert_close(loss(y_pred, y_true), torch.tensor(0.5 * e * e))
    P = np.array([[2.0, 0.5], [0.5, 1.0]], dtype=np.float32)
    loss.set_precision(torch.from_numpy(P))
    expected = 0.5 * e * np.stack([e @ P[:, 0], e @ P[:, 1]], axis=1)
    torch.testing.assert_close(loss(y_pred, y_true), torch.from_numpy(expected))
    with pytest.raises(ValueError, match=r"shape \(2, 2\); got \(3, 3\)"):
        loss.set_precision(torch.eye(3))
    torch.testing.assert_close(loss.precision, torch.from_numpy(P))


# ---------------------------------------------------------------------------
# Sample weights are repeated rows: the batch scale and the losses


def test_batch_scale_is_the_mad_of_the_repeated_rows(weighted_rows):
    _, y, weights = weighted_rows
    y_rep = np.repeat(y, weights, axis=0)
    expected = 1.4826 * np.median(np.abs(y_rep - np.median(y_rep, 0)), 0)
    residual = torch.as_tensor(y)
    w = torch.as_tensor(weights, dtype=torch.float64)[:, None].expand_as(residual)
    np.testing.assert_allclose(
        batch_mad_scale(residual, w)[0].numpy(), expected, rtol=1e-12
    )
    # Unweighted, an even count takes the mean of the two middle values (np.median).
    np.testing.assert_allclose(
        batch_mad_scale(torch.as_tensor(y_rep))[0].numpy(), expected, rtol=1e-12
    )


@pytest.mark.parametrize("Loss", [HuberLoss, TukeyLoss])
def test_weighted_losses_equal_the_repeated_rows(Loss, weighted_rows):
    _, y, weights = weighted_rows
    y_pred = torch.zeros(y.shape, dtype=torch.float64)
    w = torch.as_tensor(weights, dtype=torch.float64)[:, None].expand(y.shape)
    weighted = (w * Loss()(y_pred, torch.as_tensor(y), weight=w)).sum()
    y_rep = torch.as_tensor(np.repeat(y, weights, axis=0))
    repeated = Loss()(torch.zeros_like(y_rep), y_rep).sum()
    torch.testing.assert_close(weighted, repeated, rtol=1e-12, atol=0)


@pytest.mark.parametrize("seed", [0, 1])
def test_weighted_median_is_that_of_the_repeated_rows(seed):
    from sk_deepgum.losses import weighted_median

    rng = np.random.default_rng(seed)
    values = rng.normal(size=(9, 2)).round(1)
    weights = rng.integers(0, 4, size=(9, 2))
    weights[0] = 1
    weights[-1, 1] = 30  # one row outweighs all others: the median is its value
    for d in range(2):
        repeated = np.repeat(values[:, d], weights[:, d])
        got = weighted_median(torch.as_tensor(values), torch.as_tensor(weights * 1.0))
        assert got.shape == (1, 2)
        assert float(got[0, d]) == pytest.approx(np.median(repeated), abs=1e-12)


@pytest.mark.parametrize(
    "weights",
    [
        [1, 1, 5],  # the largest value outweighs the rest: both medians are it
        [1, 1, 2],  # even count: the upper middle row is the largest value
        [5, 1, 1],  # the smallest value outweighs the rest
        [2, 1, 1],  # even count: the lower middle row is the smallest value
    ],
)
def test_weighted_median_at_the_ends_of_the_sorted_values(weights):
    from sk_deepgum.losses import weighted_median

    values = np.array([3.0, 1.0, 2.0])  # unsorted: weights go with their rows
    weights = np.array(weights)[[2, 0, 1]]
    repeated = np.repeat(values, weights)
    got = weighted_median(
        torch.as_tensor(values[:, None]), torch.as_tensor(weights[:, None] * 1.0)
    )
    assert float(got[0, 0]) == np.median(repeated)


def test_weighted_median_of_a_batch_without_weight_is_finite():
    """A batch whose rows all have zero sample weight (possible with zero weights in
    the data) still gets a finite scale statistic: the mean of the smallest and
    largest values. Its loss terms carry zero weight anyway."""
    from sk_deepgum.losses import weighted_median

    values = torch.tensor([[3.0], [1.0], [2.0]])
    got = weighted_median(values, torch.zeros(3, 1))
    assert float(got[0, 0]) == 2.0


def test_quadratic_loss_of_one_output_is_half_its_precision_times_e_squared():
    """One output: ½ p e², in value and gradient."""
    y_pred = torch.tensor([[0.5], [2.0], [-3.0]], requires_grad=True)
    y_true = torch.tensor([[1.5], [0.0], [0.25]])
    loss = QuadraticLoss(1)
    loss.set_precision(torch.tensor([[2.5]]))
    e = (y_true - y_pred).detach()
    value = loss(y_pred, y_true)
    torch.testing.assert_close(value, 0.5 * 2.5 * e * e)
    value.sum().backward()
    torch.testing.assert_close(y_pred.grad, -2.5 * e)
