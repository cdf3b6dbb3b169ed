"""The E-step and M-step of the Gaussian-uniform mixture (_gum_math.py), called
directly: e_step's and estimate_inlier_logit's defaults against the log-odds
written out with scipy, and the M-step's floors on the outlier mass and the prior.
"""

import numpy as np
import pytest
import scipy.stats
import torch
from conftest import EM_CHUNK, EM_ROWS, em_rows

from sk_deepgum.mixture import (
    GUMParams,
    check_groups,
    e_step,
    estimate_inlier_logit,
    fit_gum,
    m_step,
    make_grouping,
    prepare_data,
)


@pytest.mark.parametrize("chunk_size", [None, EM_CHUNK])
def test_inlier_logit_defaults_to_the_fitted_mean(chunk_size):
    # estimate_inlier_logit's defaults (fit_mean=True, Gaussian) against the log-odds
    # log(π N(x; μ, Σ)) - log((1 - π) γ) written out with scipy.
    from scipy.stats import multivariate_normal

    X, _ = em_rows()
    XT = torch.as_tensor(X.T.copy())
    grouping = make_grouping(check_groups(None, 3))
    params = fit_gum(XT, None, grouping, fit_mean=True, max_iter=5).params
    assert np.all(np.abs(params.means.numpy()) > 0.05)  # the data's mean is 0.3
    logit, _ = estimate_inlier_logit(
        XT, params, grouping, "diag", chunk_size=chunk_size
    )
    prior = float(params.inlier_prior[0])
    log_normal = multivariate_normal(
        params.means.numpy(), np.diag(params.covariances.numpy())
    ).logpdf(X)
    expected = (
        np.log(prior)
        + log_normal
        - np.log1p(-prior)
        - float(params.uniform_log_density[0])
    )
    np.testing.assert_allclose(logit[0].numpy(), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("chunk_size", [None, EM_CHUNK])
@pytest.mark.parametrize("covariance_type", ["diag", "full"])
def test_inlier_logit_without_fit_mean_ignores_the_means(covariance_type, chunk_size):
    # fit_mean=False means a zero-mean Gaussian, whatever params.means holds.
    from scipy.stats import multivariate_normal

    X, _ = em_rows()
    XT = torch.as_tensor(X.T.copy())
    grouping = make_grouping(check_groups(None, 3))
    params = fit_gum(
        XT, None, grouping, covariance_type=covariance_type, fit_mean=True, max_iter=5
    ).params
    logit, _ = estimate_inlier_logit(
        XT, params, grouping, covariance_type, fit_mean=False, chunk_size=chunk_size
    )
    cov = params.covariances
    cov = cov[0].numpy() if covariance_type == "full" else np.diag(cov.numpy())
    prior = float(params.inlier_prior[0])
    expected = (
        np.log(prior / (1 - prior))
        + multivariate_normal(np.zeros(3), cov).logpdf(X)
        - float(params.uniform_log_density[0])
    )
    np.testing.assert_allclose(logit[0].numpy(), expected, rtol=1e-10, atol=1e-10)


def test_outlier_mass_at_the_floor_keeps_the_previous_box():
    """An outlier mass of exactly the mass floor, 10 eps x the total weight, is
    numerically zero: the moment-matched box keeps the previous one.

    With nothing to estimate them from, the outlier-weighted moments are rounding
    noise; a box built from them would jump onto the data. Four rows with
    responsibility 1 - 10 eps each (exact in float64, and so are their sums) leave an
    outlier mass of exactly 40 eps = 10 eps x 4.
    """
    eps = np.finfo(np.float64).eps
    XT = torch.tensor([[-3.0, -1.0, 2.0, 5.0]], dtype=torch.float64)
    resp = torch.full((1, 4), 1.0 - 10 * eps, dtype=torch.float64)
    assert 4.0 - float(resp.sum()) == 10 * eps * 4
    previous = GUMParams(
        torch.tensor([0.5], dtype=torch.float64),
        torch.zeros(1, dtype=torch.float64),
        torch.ones(1, dtype=torch.float64),
        torch.tensor([-np.log(100.0)], dtype=torch.float64),
        torch.tensor([[-50.0, 50.0]], dtype=torch.float64),
    )
    grouping = make_grouping(check_groups(None, 1))
    params = m_step(
        prepare_data(XT, None), resp, previous, grouping, "diag", "moments", False, 0.0
    )
    assert params.uniform_bounds.tolist() == [[-50.0, 50.0]]
    assert params.uniform_log_density.tolist() == [-np.log(100.0)]


def test_e_step_defaults_to_the_fitted_mean_and_a_gaussian():
    """e_step's defaults (fit_mean=True, df=None) are the log-odds of a Gaussian
    centred at ``params.means``, written out with scipy, and no Student-t scales.

    e_step is public: a caller who leaves the options out must get the documented
    model, not a zero-mean one (the data's mean here is 0.3, far from 0).
    """
    X, _ = em_rows()
    XT = torch.as_tensor(X.T.copy())
    grouping = make_grouping(check_groups(None, 3))
    params = fit_gum(XT, None, grouping, fit_mean=True, max_iter=5).params
    assert np.all(np.abs(params.means.numpy()) > 0.05)
    logit, outlier_term, scales = e_step(XT, params, grouping, "diag")
    assert scales is None
    prior = float(params.inlier_prior[0])
    log_normal = scipy.stats.multivariate_normal(
        params.means.numpy(), np.diag(params.covariances.numpy())
    ).logpdf(X)
    log_outlier = np.log1p(-prior) + float(params.uniform_log_density[0])
    assert float(outlier_term[0]) == pytest.approx(log_outlier, rel=1e-12)
    np.testing.assert_allclose(
        logit[0].numpy(), np.log(prior) + log_normal - log_outlier, rtol=1e-10
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_inlier_prior_stays_at_least_eps_when_every_row_is_an_outlier(dtype):
    """With every responsibility exactly 0 (and no pseudo-count) the M-step's prior
    is eps of the dtype, not 0.

    The mirror of the upper clamp (test_mixture's every-row-an-inlier test): like
    GaussianMixture's weights, both components keep a weight of at least eps, so
    log(prior), which the E-step, the log-likelihood and score_samples use, stays
    finite.
    """
    X, _ = em_rows()
    XT = torch.as_tensor(X.T.copy(), dtype=dtype)
    grouping = make_grouping(check_groups(None, 3))
    data = prepare_data(XT, None)
    previous = fit_gum(XT, None, grouping, max_iter=2).params
    resp = torch.zeros((1, EM_ROWS), dtype=dtype)
    params = m_step(data, resp, previous, grouping, "diag", "moments", False, 1e-6)
    assert params.inlier_prior.tolist() == [torch.finfo(dtype).eps]
    assert torch.isfinite(torch.log(params.inlier_prior)).all()
