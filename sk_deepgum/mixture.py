"""Gaussian-uniform mixture (GUM): the estimator, and the EM core's public names.

:class:`GaussianUniformMixture` is the estimator. The EM core it shares with
:class:`~sk_deepgum.DeepGUMRegressor` lives in :mod:`sk_deepgum._gum_math` (E-step,
M-step) and :mod:`sk_deepgum._em` (the EM loop); the names users need from it are
re-exported here.

Model, for group ``g`` of columns ``c_g`` of a row ``x_n``:

.. math::

    p(x_{n,c_g}) = \\pi_g \\, \\mathcal{N}(x_{n,c_g}; \\mu_g, \\Sigma_g)
                   + (1 - \\pi_g) \\, \\gamma_g

where :math:`\\gamma_g` is the constant density of the outlier (uniform) component.
Groups are independent, so a row's log-likelihood is the sum over groups.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, DensityMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from sk_deepgum._covariance import COVARIANCES
from sk_deepgum._em import fit_gum, prepare_data
from sk_deepgum._gum_math import (
    EM_CHUNK_ROWS,
    EMResult,
    Grouping,
    GUMParams,
    e_step,
    estimate_inlier_logit,
    m_step,
    make_grouping,
    row_log_inlier_proba,
    row_log_likelihood,
)
from sk_deepgum._validation import (
    as_tensor,
    check_groups,
    check_sample_weight,
    check_uniform_bounds,
    replace_fitted_state,
    validate_fit_data,
)
from sk_deepgum._warnings import user_stacklevel

__all__ = [
    "EM_CHUNK_ROWS",
    "EMResult",
    "GUMParams",
    "GaussianUniformMixture",
    "Grouping",
    "check_groups",
    "e_step",
    "fit_gum",
    "m_step",
    "make_grouping",
    "prepare_data",
]

# ---------------------------------------------------------------------------
# Conversion between torch parameters and the estimator's public attributes


def fitted_attributes(
    params: GUMParams, column_groups, covariance_type: str, grouped: bool
) -> dict:
    """The §2b public attributes (name → numpy value) of ``params``.

    ``grouped`` is whether the estimator was given ``groups``: the attributes
    then carry one entry per group, otherwise the single group's values.
    """

    def np_(t):
        return t.detach().cpu().numpy()

    prior = np_(params.inlier_prior)
    weights = np.stack([prior, 1.0 - prior], axis=-1)
    means = np_(params.means)
    uniform_log_density = np_(params.uniform_log_density)
    if grouped:
        means = [means[cols] for cols in column_groups]
    else:
        weights, uniform_log_density = weights[0], uniform_log_density[0]
    covariance = COVARIANCES[covariance_type]
    # Derived from the same storage as covariances_, so all three share its layout,
    # dtype and units (a mixture_ rescaled by params_in_units included).
    precisions, precisions_cholesky = covariance.precisions(params.covariances)
    return {
        "weights_": weights,
        "means_": means,
        "covariances_": covariance.to_public(
            params.covariances, column_groups, grouped
        ),
        "precisions_": covariance.to_public(precisions, column_groups, grouped),
        "precisions_cholesky_": covariance.to_public(
            precisions_cholesky, column_groups, grouped
        ),
        "uniform_log_density_": uniform_log_density,
        "uniform_bounds_": np_(params.uniform_bounds),
        "groups_": [np.asarray(cols) for cols in column_groups],
    }


def fit_result_attributes(result: EMResult, log_likelihood_shift: float = 0.0) -> dict:
    """Convergence attributes of an EM fit; ``log_likelihood_shift`` is subtracted
    from every bound (the log-Jacobian of a change of units)."""
    lower_bounds = [lb - log_likelihood_shift for lb in result.lower_bounds]
    return {
        "converged_": result.converged,
        "n_iter_": result.n_iter,
        "lower_bounds_": lower_bounds,
        "lower_bound_": lower_bounds[-1],
    }


def params_in_units(
    params: GUMParams, scale: np.ndarray, column_groups, covariance_type: str
) -> tuple[GUMParams, str, float]:
    """The mixture of ``params`` for data multiplied column-wise by ``scale``.

    If ``e`` follows the mixture, ``s * e`` (``s = scale``, shape (D,)) follows one
    with means ``s * mu``, covariances ``S Sigma S`` (``S = diag(s)``), bounds
    ``s * [a, b]`` and log-densities shifted by the log-Jacobian
    ``-sum_{j in g} log s_j`` per group ``g``. A spherical group whose columns get
    different scales is no longer spherical: it becomes diagonal.

    Returns
    -------
    params : GUMParams
        On the CPU in float64.
    covariance_type : str
        ``"diag"`` for a spherical input, otherwise the input's type.
    log_jacobian : float
        ``sum_j log s_j``, to subtract from log-likelihoods.
    """
    scale = torch.as_tensor(scale, dtype=torch.float64)

    def cpu64(t):
        return t.detach().cpu().double()

    cov = params.covariances
    cov = [cpu64(c) for c in cov] if isinstance(cov, list) else cpu64(cov)
    covariances, covariance_type = COVARIANCES[covariance_type].in_units(
        cov, scale, make_grouping(column_groups)
    )
    log_scale = torch.zeros(len(column_groups), dtype=torch.float64)
    for g, cols in enumerate(column_groups):
        log_scale[g] = torch.log(scale[cols]).sum()
    units = GUMParams(
        cpu64(params.inlier_prior),
        cpu64(params.means) * scale,
        covariances,
        cpu64(params.uniform_log_density) - log_scale,
        cpu64(params.uniform_bounds) * scale[:, None],
    )
    return units, covariance_type, float(log_scale.sum())


def fitted_mixture(
    params: GUMParams,
    column_groups,
    result: EMResult,
    log_likelihood_shift: float = 0.0,
    **estimator_params,
) -> GaussianUniformMixture:
    """A fitted :class:`GaussianUniformMixture` holding ``params``, with the
    convergence record of ``result`` (how DeepGUMRegressor exposes ``mixture_``).

    ``estimator_params`` are the estimator's constructor parameters; its
    ``covariance_type`` must be the one of ``params``.
    """
    mixture = GaussianUniformMixture(**estimator_params)
    grouped = mixture.groups is not None
    replace_fitted_state(
        mixture,
        {
            **fitted_attributes(
                params, column_groups, mixture.covariance_type, grouped
            ),
            "n_features_in_": params.means.shape[0],
            **fit_result_attributes(result, log_likelihood_shift),
        },
    )
    return mixture


def params_from_attributes(estimator, dtype, device=None) -> GUMParams:
    """Rebuild torch parameters from the fitted public attributes."""
    covariance_type = estimator.covariance_type
    column_groups = estimator.groups_
    grouped = estimator.groups is not None
    n_features = estimator.uniform_bounds_.shape[0]

    def t(a):
        return torch.as_tensor(np.asarray(a), dtype=dtype, device=device)

    weights = np.atleast_2d(estimator.weights_)
    if grouped:
        means = np.empty(n_features)
        for cols, m in zip(column_groups, estimator.means_, strict=True):
            means[cols] = m
    else:
        means = estimator.means_
    covariances = COVARIANCES[covariance_type].from_public(
        estimator.covariances_, column_groups, grouped, n_features, t
    )
    return GUMParams(
        t(weights[:, 0]),
        t(means),
        covariances,
        t(np.atleast_1d(estimator.uniform_log_density_)),
        t(estimator.uniform_bounds_),
    )


# ---------------------------------------------------------------------------
# Estimator


class GaussianUniformMixture(DensityMixin, BaseEstimator):
    """Gaussian-uniform mixture: an inlier Gaussian plus an outlier uniform, by EM.

    Each latent group ``g`` of columns of a row follows

    .. math::

        p(x_g) = \\pi_g \\, \\mathcal{N}(x_g; \\mu_g, \\Sigma_g) + (1 - \\pi_g)\\,\\gamma_g

    with :math:`\\gamma_g` the density of a uniform over a box. Fit on regression
    residuals, ``predict_proba(X)[:, 1]`` is the probability that a target is an
    outlier. The API mirrors :class:`sklearn.mixture.GaussianMixture`.

    The uniform's density :math:`\\gamma` is used everywhere, including outside its
    box (``uniform_bounds_`` describes the fitted box, e.g. for :meth:`sample`): an
    outlier beyond the box must stay an outlier.

    Parameters
    ----------
    covariance_type : {'full', 'diag', 'spherical'}, default='diag'
        Covariance of each group's Gaussian: full matrix, per-column variances, or one
        variance pooled over the group's columns.
    groups : None, 'each' or list of lists of int, default=None
        Granularity of the latent inlier/outlier variable. None: one per row (all
        columns in or out together); 'each': one per column; a list of lists of column
        indices: one per group (e.g. the (x, y) pair of a landmark); the lists must
        partition the columns.
    uniform : {'moments', 'range'} or array-like of shape (n_features, 2), \
default='moments'
        Outlier support. 'moments': the box matching the outlier-weighted mean and
        variance of each column, re-estimated every M-step. 'range': the min–max box of
        the data (fixed; what the DeepGUM authors' code does). An array: fixed
        (low, high) bounds per column.
    fit_mean : bool, default=False
        Estimate the Gaussian's mean. False centres it at 0, as for residuals.
    inlier_df : float or None, default=None
        None: the inlier component is Gaussian. A number ν: a multivariate Student-t
        with ν degrees of freedom and scale matrix ``covariances_`` (heavier tails:
        inliers fitted less well than most, e.g. by a regressor, are not taken for
        outliers). ν is fixed, not learnt.
    init_inlier_prior : float, default=0.9
        Starting inlier prior :math:`\\pi` (learnt by EM afterwards).
    inlier_pseudo_count : float, default=10.0
        Pseudo-rows :math:`k` of inlier evidence (in units of sample weight): each
        M-step sets :math:`\\pi_g = (\\sum_n w_n r_{gn} + k) / (\\sum_n w_n + k)`,
        the maximum a posteriori estimate under a Beta(k + 1, 1) prior, and EM
        climbs the log-posterior (``lower_bound_`` includes
        :math:`k \\sum_g \\log \\pi_g / \\sum_n w_n`). It keeps a few rows from being
        fitted as mostly outliers; its pull :math:`k / (\\sum_n w_n + k)` fades as
        the data grow. 0: maximum likelihood, for a small sample that may be mostly
        outlying. See :ref:`small-tables` in the user guide.
    max_iter : int, default=100
        Maximum number of EM iterations.
    tol : float, default=1e-3
        Convergence threshold on the gain in mean log-likelihood.
    reg_covar : float, default=1e-6
        Non-negative regularisation of the covariances, relative to each column's
        scale: ``reg_covar`` times the column's weighted variance in the training
        data is added to its diagonal entry. Like every other scale of the model,
        it is relative to the data, so rescaling a column leaves
        :meth:`predict_proba` and ``weights_`` unchanged. See :ref:`model` in the
        user guide.
    warm_start : bool, default=False
        Start EM from the previous fit's parameters when shapes allow.
    random_state : int, RandomState instance or None, default=None
        Seed for :meth:`sample` (EM itself is deterministic).
    verbose : int, default=0
        1 prints a summary per fit, 2 the log-likelihood of every iteration.

    Attributes
    ----------
    weights_ : ndarray of shape (2,), or (n_groups, 2) when ``groups`` is set
        ``weights_[..., 0]`` is the inlier prior, ``weights_[..., 1]`` its complement.
    means_ : ndarray of shape (n_features,), or list of (n_columns_g,) arrays
        Gaussian mean (zeros unless ``fit_mean=True``).
    covariances_ : ndarray or list of ndarray
        Without groups: (n_features, n_features) for 'full', (n_features,) for 'diag',
        a scalar for 'spherical'. With groups: a list with one (n_g, n_g) matrix,
        (n_g,) vector or scalar per group.
    precisions_ : ndarray or list of ndarray
        Inverse of ``covariances_``, in the same layout: :math:`\\Sigma^{-1}` for
        'full', :math:`1 / v` per entry for 'diag' and 'spherical'. As in
        :class:`~sklearn.mixture.GaussianMixture`, but without the component axis.
    precisions_cholesky_ : ndarray or list of ndarray
        Cholesky factor of ``precisions_``, in the same layout, as
        :class:`~sklearn.mixture.GaussianMixture` computes it: for 'full' the
        upper-triangular :math:`U = L^{-\\top}` with :math:`\\Sigma = L L^\\top`,
        so that ``precisions_ = U @ U.T``; :math:`1 / \\sqrt{v}` per entry for
        'diag' and 'spherical'. Both are computed from ``covariances_`` at fit
        time; :meth:`predict_proba` and the other methods read ``covariances_``
        only.
    uniform_log_density_ : float or ndarray of shape (n_groups,)
        :math:`\\log \\gamma` (kept in the log domain: :math:`\\gamma` overflows with
        many columns).
    uniform_bounds_ : ndarray of shape (n_features, 2)
        (low, high) of the uniform's box per column.
    groups_ : list of ndarray of int
        The resolved partition of the columns into latent groups.
    converged_ : bool
        Whether EM reached ``tol`` before ``max_iter``.
    n_iter_ : int
        Number of EM iterations run.
    lower_bound_ : float
        Mean log-likelihood at the last iteration.
    lower_bounds_ : list of float
        Mean log-likelihood at every iteration.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    sklearn.mixture.GaussianMixture : Mixture of Gaussians only.
    DeepGUMRegressor : Neural regressor trained with this mixture on its residuals.

    References
    ----------
    .. [1] S. Lathuilière, P. Mesejo, X. Alameda-Pineda, R. Horaud. "DeepGUM: Learning
       Deep Robust Regression with a Gaussian-Uniform Mixture Model." ECCV 2018.
    .. [2] P. Coretto, C. Hennig. "Maximum likelihood estimation of heterogeneous
       mixtures of Gaussian and uniform distributions." J. Stat. Plan. Inference, 2011.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_deepgum import GaussianUniformMixture
    >>> rng = np.random.default_rng(0)
    >>> inliers = rng.normal(0, 1, size=(900, 1))
    >>> outliers = rng.uniform(-20, 20, size=(100, 1))
    >>> gum = GaussianUniformMixture().fit(np.vstack([inliers, outliers]))
    >>> round(float(gum.weights_[0]), 2)
    0.9
    >>> gum.predict([[0.1], [15.0]])
    array([0, 1])
    """

    _parameter_constraints: dict = {
        "covariance_type": [StrOptions({"full", "diag", "spherical"})],
        "groups": [None, StrOptions({"each"}), list, tuple],
        "uniform": [StrOptions({"moments", "range"}), "array-like"],
        "fit_mean": ["boolean"],
        "inlier_df": [None, Interval(Real, 0, None, closed="neither")],
        "init_inlier_prior": [Interval(Real, 0, 1, closed="neither")],
        "inlier_pseudo_count": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "reg_covar": [Interval(Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        covariance_type="diag",
        groups=None,
        uniform="moments",
        fit_mean=False,
        inlier_df=None,
        init_inlier_prior=0.9,
        inlier_pseudo_count=10.0,
        max_iter=100,
        tol=1e-3,
        reg_covar=1e-6,
        warm_start=False,
        random_state=None,
        verbose=0,
    ):
        self.covariance_type = covariance_type
        self.groups = groups
        self.uniform = uniform
        self.fit_mean = fit_mean
        self.inlier_df = inlier_df
        self.init_inlier_prior = init_inlier_prior
        self.inlier_pseudo_count = inlier_pseudo_count
        self.max_iter = max_iter
        self.tol = tol
        self.reg_covar = reg_covar
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Estimate the mixture's parameters by EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data, typically regression residuals ``y - prediction``.
        y : Ignored
            Not used, present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; they enter every sufficient statistic.

        Returns
        -------
        self : GaussianUniformMixture
            The fitted mixture.
        """
        # Everything is built in locals and assigned at the end, so a fit that fails
        # or is interrupted (Ctrl-C) leaves a previous fit intact.
        X, seen = validate_fit_data(self, X, dtype=[np.float64, np.float32])
        n_samples, n_features = X.shape
        if n_samples < 2:
            raise ValueError(
                f"GaussianUniformMixture needs at least 2 samples; got n_samples={n_samples}."
            )
        weights = None
        if sample_weight is not None:
            weights = check_sample_weight(sample_weight, X, dtype=X.dtype)
        column_groups = check_groups(self.groups, n_features)
        uniform = self.uniform
        if not isinstance(uniform, str):
            uniform = as_tensor(
                check_uniform_bounds(uniform, n_features).astype(X.dtype)
            )
        dtype = torch.float64 if X.dtype == np.float64 else torch.float32
        init = None
        if self.warm_start and self._can_warm_start(column_groups):
            init = params_from_attributes(self, dtype)
        result = fit_gum(
            as_tensor(X.T),
            None if weights is None else as_tensor(weights),
            make_grouping(column_groups),
            covariance_type=self.covariance_type,
            uniform=uniform,
            fit_mean=self.fit_mean,
            init_inlier_prior=self.init_inlier_prior,
            inlier_pseudo_count=self.inlier_pseudo_count,
            reg_covar=self.reg_covar,
            max_iter=self.max_iter,
            tol=self.tol,
            init_params=init,
            df=self.inlier_df,
            verbose=self.verbose,
        )
        if not result.converged:
            warnings.warn(
                f"GaussianUniformMixture did not converge in max_iter={self.max_iter} "
                f"iterations (tol={self.tol}). Increase max_iter or tol.",
                ConvergenceWarning,
                stacklevel=user_stacklevel(),
            )
        replace_fitted_state(
            self,
            {
                **fitted_attributes(
                    result.params,
                    column_groups,
                    self.covariance_type,
                    self.groups is not None,
                ),
                **seen,
                **fit_result_attributes(result),
            },
        )
        return self

    def _can_warm_start(self, column_groups) -> bool:
        if not hasattr(self, "groups_") or len(self.groups_) != len(column_groups):
            return False
        return all(
            np.array_equal(a, b)
            for a, b in zip(self.groups_, column_groups, strict=True)
        )

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then label every row: 1 = outlier, 0 = inlier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.
        y : Ignored
            Not used, present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            1 where the row is more likely an outlier than an inlier.
        """
        return self.fit(X, sample_weight=sample_weight).predict(X)

    def _logit(self, X):
        check_is_fitted(self)
        if self.n_features_in_ == 1 and np.ndim(X) == 1:
            # Residuals of a single-output regressor come 1-D: y - predict(X).
            X = np.asarray(X).reshape(-1, 1)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        dtype = torch.float64 if X.dtype == np.float64 else torch.float32
        params = params_from_attributes(self, dtype)
        return estimate_inlier_logit(
            as_tensor(X.T),
            params,
            make_grouping(self.groups_),
            self.covariance_type,
            fit_mean=self.fit_mean,
            df=self.inlier_df,
        )

    def predict_group_proba(self, X):
        """Inlier probability of every latent group of every row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_groups)
            :math:`r_g = P(\\text{group } g \\text{ inlier} \\mid x)`.
        """
        logit, _ = self._logit(X)
        return torch.sigmoid(logit).T.numpy()

    def predict_proba(self, X):
        """Probability that each row is an inlier and an outlier.

        A row is an inlier when all its groups are: :math:`P(\\text{inlier}) =
        \\prod_g r_g`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.

        Returns
        -------
        proba : ndarray of shape (n_samples, 2)
            Columns [P(row inlier), P(row outlier)].
        """
        logit, _ = self._logit(X)
        log_inlier = row_log_inlier_proba(logit)
        # 1 - exp(l) via expm1 keeps tiny outlier probabilities accurate.
        return torch.stack([torch.exp(log_inlier), -torch.expm1(log_inlier)], 1).numpy()

    def predict(self, X):
        """Label every row: 1 = outlier, 0 = inlier (argmax of :meth:`predict_proba`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            1 for outliers, 0 for inliers.
        """
        proba = self.predict_proba(X)
        return (proba[:, 1] > proba[:, 0]).astype(np.int64)

    def score_samples(self, X):
        """Log-likelihood of every row under the fitted mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples,)
            :math:`\\sum_g \\log(\\pi_g \\mathcal{N}(x_g) + (1 - \\pi_g)\\gamma_g)`.
        """
        logit, outlier_term = self._logit(X)
        return row_log_likelihood(logit, outlier_term).numpy()

    def score(self, X, y=None):
        """Mean log-likelihood of the rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        log_likelihood : float
            Mean of :meth:`score_samples`.
        """
        return float(np.mean(self.score_samples(X)))

    def _n_parameters(self) -> int:
        """Number of free parameters p of :meth:`bic` and :meth:`aic`.

        Per group of :math:`d` columns: the inlier prior (1), the covariance
        (:math:`d(d+1)/2` full, :math:`d` diag, 1 spherical) and, with ``fit_mean``,
        the mean (:math:`d`); plus the uniform's (low, high) per column when it is
        estimated ('moments' or 'range'), none for given bounds.
        """
        n = 0
        for cols in self.groups_:
            d = len(cols)
            n += 1  # inlier prior
            n += COVARIANCES[self.covariance_type].n_parameters(d)
            n += d if self.fit_mean else 0
        if isinstance(self.uniform, str):
            n += 2 * self.n_features_in_  # box centre and width per column
        return n

    def bic(self, X):
        """Bayesian information criterion on ``X`` (lower is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.

        Returns
        -------
        bic : float
            :math:`-2 \\log L + p \\log n`.
        """
        log_lik = self.score_samples(X)
        return -2 * log_lik.sum() + self._n_parameters() * np.log(len(log_lik))

    def aic(self, X):
        """Akaike information criterion on ``X`` (lower is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.

        Returns
        -------
        aic : float
            :math:`-2 \\log L + 2 p`.
        """
        return -2 * self.score_samples(X).sum() + 2 * self._n_parameters()

    def sample(self, n_samples=1):
        """Draw rows from the fitted mixture.

        Each group is drawn independently: from its Gaussian with probability
        :math:`\\pi_g`, otherwise uniformly from its box ``uniform_bounds_``.

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Drawn rows.
        y : ndarray of shape (n_samples,)
            1 where at least one group of the row was drawn from the uniform.
        """
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(
                f"n_samples must be a positive integer; got {n_samples!r}."
            )
        rng = check_random_state(self.random_state)
        params = params_from_attributes(self, torch.float64)
        covariance = COVARIANCES[self.covariance_type]
        bounds = self.uniform_bounds_
        X = np.empty((n_samples, self.n_features_in_))
        is_outlier = np.zeros(n_samples, dtype=bool)
        for g, cols in enumerate(self.groups_):
            outlier = rng.uniform(size=n_samples) >= float(params.inlier_prior[g])
            mean = params.means[cols].numpy()
            cov = covariance.group_matrix(params.covariances, g, cols)
            gauss = rng.multivariate_normal(np.zeros(len(cols)), cov, size=n_samples)
            if self.inlier_df is not None:
                # A Student-t is a Gaussian divided by sqrt(chi2_nu / nu).
                df = self.inlier_df
                gauss = gauss / np.sqrt(rng.chisquare(df, size=(n_samples, 1)) / df)
            gauss = gauss + mean
            unif = rng.uniform(
                bounds[cols, 0], bounds[cols, 1], size=(n_samples, len(cols))
            )
            X[:, cols] = np.where(outlier[:, None], unif, gauss)
            is_outlier |= outlier
        return X, is_outlier.astype(np.int64)
