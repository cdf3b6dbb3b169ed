"""The EM driver (_em.py): ``fit_gum``, its starting point and ``prepare_data``.

EM in row chunks: ``fit_gum(..., chunk_size=...)`` sums its statistics over chunks.
Chunking changes only the order of the floating-point sums, so a chunked fit must
match the one-chunk fit to rounding, and a chunk larger than the data must be the
one-chunk fit exactly.
"""

import re

import numpy as np
import pytest
import scipy.stats
import torch
from conftest import EM_CHUNK, EM_ROWS, em_rows

from sk_deepgum.mixture import (
    EM_CHUNK_ROWS,
    check_groups,
    estimate_inlier_logit,
    fit_gum,
    make_grouping,
    prepare_data,
)

# (covariance_type, uniform, df, groups, weighted, fit_mean, dtype), as in
# distributed/test_distributed_em.py — per-column sums, per-group scatter matrices (a
# second chunked pass for 'full' with a fitted mean), Student-t scale-weighted sums,
# the min/max range box, weighted quantiles — plus fixed uniform bounds.
FIXED = "fixed"
CONFIGS = [
    ("diag", "moments", None, None, False, False, torch.float64),
    ("full", "moments", 5.0, [[0, 1], [2]], True, True, torch.float64),
    ("spherical", "range", None, "each", True, False, torch.float64),
    ("diag", "moments", 5.0, "each", False, False, torch.float32),
    ("full", FIXED, None, None, True, False, torch.float64),
    ("full", "moments", None, None, False, True, torch.float32),
    ("spherical", FIXED, 5.0, [[0, 2], [1]], False, True, torch.float64),
]


def _fit(config, chunk_size, n_rows=EM_ROWS, **kwargs):
    covariance_type, uniform, df, groups, weighted, fit_mean, dtype = config
    X, w = em_rows(n_rows)
    XT = torch.as_tensor(X.T.copy(), dtype=dtype)
    sample_weight = torch.as_tensor(w, dtype=dtype) if weighted else None
    if uniform == FIXED:
        uniform = torch.tensor(
            [[-16.0, 16.0], [-15.0, 17.0], [-18.0, 15.0]], dtype=dtype
        )
    grouping = make_grouping(check_groups(groups, X.shape[1]))
    result = fit_gum(
        XT,
        sample_weight,
        grouping,
        covariance_type=covariance_type,
        uniform=uniform,
        df=df,
        fit_mean=fit_mean,
        chunk_size=chunk_size,
        **kwargs,
    )
    logit, outlier_term = estimate_inlier_logit(
        XT,
        result.params,
        grouping,
        covariance_type,
        fit_mean=fit_mean,
        df=df,
        chunk_size=chunk_size,
    )
    p = result.params
    covariances = p.covariances if covariance_type == "full" else [p.covariances]
    return {
        "inlier_prior": p.inlier_prior,
        "means": p.means,
        "covariances": covariances,
        "uniform_log_density": p.uniform_log_density,
        "uniform_bounds": p.uniform_bounds,
        "lower_bounds": torch.tensor(result.lower_bounds, dtype=torch.float64),
        "logit": logit,
        "outlier_term": outlier_term,
        "n_iter": result.n_iter,
        "converged": result.converged,
    }


def _tensors(fit):
    return [
        v for k, v in fit.items() if k not in ("covariances", "n_iter", "converged")
    ]


def _assert_close(got, expected, rtol):
    assert got["n_iter"] == expected["n_iter"]
    assert got["converged"] == expected["converged"]
    for key in expected:
        if key in ("n_iter", "converged"):
            continue
        if key == "covariances":
            for a, b in zip(got[key], expected[key], strict=True):
                np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=rtol, err_msg=key)
            continue
        np.testing.assert_allclose(
            got[key].numpy(), expected[key].numpy(), rtol=rtol, atol=0, err_msg=key
        )


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(map(str, c)))
def test_chunked_fit_matches_one_chunk(config):
    one_chunk = _fit(config, chunk_size=EM_ROWS, max_iter=50)
    chunked = _fit(config, chunk_size=EM_CHUNK, max_iter=50)
    assert one_chunk["n_iter"] > 2  # EM really iterated: the sums were reused
    rtol = 1e-5 if config[-1] == torch.float32 else 1e-10
    _assert_close(chunked, one_chunk, rtol)


@pytest.mark.parametrize("config", CONFIGS[:3], ids=lambda c: "-".join(map(str, c)))
def test_chunk_larger_than_data_is_exactly_one_chunk(config):
    default = _fit(config, chunk_size=None, max_iter=50)
    larger = _fit(config, chunk_size=10 * EM_ROWS, max_iter=50)
    assert EM_ROWS < EM_CHUNK_ROWS
    assert default["n_iter"] == larger["n_iter"]
    assert default["covariances"] is not larger["covariances"]
    for a, b in zip(_tensors(default), _tensors(larger), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(default["covariances"], larger["covariances"], strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("config", [CONFIGS[1], CONFIGS[2]], ids=["full-t", "range"])
def test_one_row_per_chunk(config):
    # 60 rows, 5 iterations: a chunk per row is slow, not different.
    options = dict(n_rows=60, max_iter=5, tol=0.0)
    one_chunk = _fit(config, chunk_size=60, **options)
    per_row = _fit(config, chunk_size=1, **options)
    assert per_row["n_iter"] == 5
    _assert_close(per_row, one_chunk, rtol=1e-10)


def test_range_box_ignores_zero_weight_rows_across_chunks():
    # Rows 0..39 have zero weight: the first chunk has none with positive weight
    # and must not contribute to (or break) the min-max box.
    config = ("diag", "range", None, None, True, False, torch.float64)
    X, w = em_rows()
    expected = np.stack([X[w > 0].min(0), X[w > 0].max(0)], axis=1)
    assert not np.allclose(expected, np.stack([X.min(0), X.max(0)], axis=1))
    got = _fit(config, chunk_size=EM_CHUNK, max_iter=3)["uniform_bounds"]
    np.testing.assert_array_equal(got.numpy(), expected)


def test_inputs_are_not_modified():
    X, w = em_rows()
    XT = torch.as_tensor(X.T.copy())
    weights = torch.as_tensor(w)
    XT_before, weights_before = XT.clone(), weights.clone()
    grouping = make_grouping(check_groups(None, 3))
    fit_gum(
        XT,
        weights,
        grouping,
        covariance_type="full",
        fit_mean=True,
        chunk_size=EM_CHUNK,
    )
    assert torch.equal(XT, XT_before)
    assert torch.equal(weights, weights_before)


def test_no_positive_weight_is_a_clear_error():
    X, _ = em_rows()
    grouping = make_grouping(check_groups(None, 3))
    with pytest.raises(ValueError, match="positive sample weight"):
        fit_gum(
            torch.as_tensor(X.T.copy()),
            torch.zeros(EM_ROWS, dtype=torch.float64),
            grouping,
            chunk_size=EM_CHUNK,
        )


@pytest.mark.parametrize(
    ("chunk_size", "error"),
    [
        (0, ValueError),
        (-5, ValueError),
        (37.0, TypeError),
        ("37", TypeError),
        (True, TypeError),
    ],
)
def test_bad_chunk_size_is_rejected(chunk_size, error):
    X, _ = em_rows()
    XT = torch.as_tensor(X.T.copy())
    grouping = make_grouping(check_groups(None, 3))
    with pytest.raises(error, match=r"chunk_size must be a positive integer.*got"):
        fit_gum(XT, None, grouping, chunk_size=chunk_size)
    params = fit_gum(XT, None, grouping, max_iter=2).params
    with pytest.raises(error, match="chunk_size"):
        estimate_inlier_logit(XT, params, grouping, "diag", chunk_size=chunk_size)


def test_numpy_integer_chunk_size_is_accepted():
    config = CONFIGS[0]
    expected = _fit(config, chunk_size=EM_CHUNK, max_iter=5)
    got = _fit(config, chunk_size=np.int64(EM_CHUNK), max_iter=5)
    for a, b in zip(_tensors(expected), _tensors(got), strict=True):
        assert torch.equal(a, b)


def test_fit_gum_defaults_are_the_documented_values(capsys):
    # fit_gum is public: a call that leaves the options out must be the plain
    # maximum-likelihood GUM its docstring describes, and print nothing.
    X, w = em_rows()
    XT = torch.as_tensor(X.T.copy())
    grouping = make_grouping(check_groups(None, 3))
    implicit = fit_gum(XT, None, grouping)
    explicit = fit_gum(
        XT,
        None,
        grouping,
        covariance_type="diag",
        uniform="moments",
        fit_mean=False,
        init_inlier_prior=0.9,
        reg_covar=1e-6,
        max_iter=100,
        tol=1e-3,
        df=None,
        inlier_pseudo_count=0.0,
        verbose=0,
    )
    assert capsys.readouterr().out == ""
    assert implicit.n_iter == explicit.n_iter
    for name in ("inlier_prior", "means", "covariances", "uniform_bounds"):
        torch.testing.assert_close(
            getattr(implicit.params, name), getattr(explicit.params, name)
        )


def start_log_likelihood(X, centre, var):
    """Mean log-likelihood, written out with scipy, of a start with inlier prior 0.8,
    a diagonal Gaussian (``centre``, ``var``) and the min-max box of ``X``."""
    log_inlier = scipy.stats.norm.logpdf(X, centre, np.sqrt(var)).sum(axis=1)
    log_box = -np.log(np.ptp(X, axis=0)).sum()
    return np.mean(np.logaddexp(np.log(0.8) + log_inlier, np.log(0.2) + log_box))


def first_lower_bound(X, **options):
    """The log-likelihood EM records first, that of its starting point."""
    result = fit_gum(
        torch.as_tensor(X.T.copy()),
        None,
        make_grouping(check_groups(None, X.shape[1])),
        fit_mean=True,
        init_inlier_prior=0.8,
        max_iter=1,
        **options,
    )
    return result.lower_bounds[0]


@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_em_starts_from_the_documented_robust_point(covariance_type):
    # The first recorded log-likelihood is that of the starting point, written out
    # here from initialize_params' docstring: the median as centre, the variance
    # from the 25 % quantile of |x - median| (0.3186 sd for a Gaussian) plus
    # reg_covar x the column's variance, the min-max box, the given prior.
    X, _ = em_rows()
    q = scipy.stats.norm.ppf(0.625)  # the 25 % quantile of |Z|, Z standard normal
    centre = np.median(X, axis=0)
    spread = np.quantile(np.abs(X - centre), 0.25, axis=0, method="inverted_cdf")
    var = (spread / q) ** 2 + 1e-6 * X.var(axis=0)
    if covariance_type == "spherical":
        var = np.full(3, var.mean())
    expected = start_log_likelihood(X, centre, var)
    first = first_lower_bound(X, covariance_type=covariance_type)
    assert first == pytest.approx(expected, rel=1e-10)


def test_em_starts_from_the_column_variance_where_most_rows_are_tied():
    """A column whose rows mostly coincide has a zero 25 % quantile of |x - median|:
    initialize_params then starts from the column's weighted variance (plus
    reg_covar times it), as its comment says, not from a variance at the floor.

    A start at the floor would make the tied value the whole inlier component and
    every other row an outlier. The first recorded log-likelihood is that of the
    start, written out here with scipy.
    """
    X, _ = em_rows()
    X[: int(0.6 * EM_ROWS), 0] = 2.0  # 60 % of column 0 tied at its median
    q = scipy.stats.norm.ppf(0.625)
    centre = np.median(X, axis=0)
    assert centre[0] == 2.0
    spread = np.quantile(np.abs(X - centre), 0.25, axis=0, method="inverted_cdf")
    assert spread[0] == 0.0 and np.all(spread[1:] > 0)
    var = (spread / q) ** 2
    var[0] = X[:, 0].var()
    var += 1e-6 * X.var(axis=0)
    expected = start_log_likelihood(X, centre, var)
    assert first_lower_bound(X) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("weighted", [False, True])
def test_prepare_data_returns_the_documented_totals_floors_and_chunking(weighted):
    """prepare_data's EMData against numpy: the weighted totals, the weighted
    column variance (the unit of reg_covar), the floors (10 eps relative to the
    totals, plus sqrt(tiny) for the variance), the range of the rows with positive
    weight, the chunk size it was given, and squares cached only for one chunk.

    Every EM pass runs on data.chunk_size and data.X2T: keeping the caller's chunk
    size (and no (D, n) cache beyond one chunk) is what bounds the fit's memory.
    """
    X, w = em_rows()
    w = w if weighted else np.ones(EM_ROWS)
    XT = torch.as_tensor(X.T.copy())
    sample_weight = torch.as_tensor(w) if weighted else None
    eps = np.finfo(np.float64).eps
    sum_w = w.sum()
    mean = X.T @ w / sum_w
    mean_sq = (X**2).T @ w / sum_w
    var_floor = 10 * eps * mean_sq + np.sqrt(np.finfo(np.float64).tiny)
    kept = X[w > 0]
    data = prepare_data(XT, sample_weight, chunk_size=EM_CHUNK)
    assert data.chunk_size == EM_CHUNK
    assert data.X2T is None
    assert float(data.sum_w) == pytest.approx(sum_w, rel=1e-13)
    np.testing.assert_allclose(data.total_first.numpy(), X.T @ w, rtol=1e-12)
    np.testing.assert_allclose(data.total_second.numpy(), (X**2).T @ w, rtol=1e-12)
    np.testing.assert_allclose(data.var_floor.numpy(), var_floor, rtol=1e-12)
    np.testing.assert_allclose(
        data.reg_scale.numpy(), np.maximum(mean_sq - mean**2, var_floor), rtol=1e-10
    )
    # abs=0: the floor is ~1e-13, inside pytest.approx's default 1e-12 tolerance.
    assert float(data.mass_floor) == pytest.approx(10 * eps * sum_w, rel=1e-13, abs=0)
    np.testing.assert_array_equal(
        data.data_range.numpy(), np.c_[kept.min(0), kept.max(0)]
    )
    one_chunk = prepare_data(XT, sample_weight, chunk_size=EM_ROWS)
    assert one_chunk.chunk_size == EM_ROWS
    assert torch.equal(one_chunk.X2T, XT * XT)
    assert prepare_data(XT, sample_weight).chunk_size == EM_CHUNK_ROWS


def test_no_positive_weight_message_is_the_documented_one():
    """With no weighted row, the error says what is wrong and the remedy, word
    for word (a user reads it; the test above only matches a fragment)."""
    X, _ = em_rows()
    message = (
        "No row has a positive sample weight (or there are no rows): the "
        "mixture cannot be fitted. Give at least one row a positive weight."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        prepare_data(
            torch.as_tensor(X.T.copy()), torch.zeros(EM_ROWS, dtype=torch.float64)
        )
