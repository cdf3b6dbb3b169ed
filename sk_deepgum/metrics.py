"""Scorers for model selection on contaminated data.

R² and MSE on contaminated validation folds reward a model for fitting the wrong
targets too. The scores here judge a model by its inlier residuals instead: a
Gaussian-uniform mixture is fitted to the held-out residuals, and the score is what
the mixture says about the inliers. All work with any regressor and are usable as
``scoring=`` in :class:`~sklearn.model_selection.GridSearchCV`.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import get_scorer, make_scorer

from sk_deepgum.mixture import GaussianUniformMixture


def _residual_mixture(y_true, y_pred, sample_weight):
    residuals = np.asarray(y_true, dtype=np.float64) - np.asarray(
        y_pred, dtype=np.float64
    )
    residuals = residuals.reshape(len(residuals), -1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mixture = GaussianUniformMixture(max_iter=200).fit(
            residuals, sample_weight=sample_weight
        )
    return mixture, residuals


def gum_log_likelihood(y_true, y_pred, *, sample_weight=None) -> float:
    """Mean log-likelihood of the residuals under a GUM fitted to them.

    Higher is better. The Gaussian-uniform mixture (GUM) is fitted to the residuals
    themselves:

    .. math::

        \\frac{1}{\\sum_n w_n} \\sum_n w_n \\log\\left(\\hat\\pi\\,
        \\mathcal{N}(e_n; 0, \\hat\\Sigma) + (1 - \\hat\\pi)\\,\\hat\\gamma\\right),
        \\quad e_n = y_n - \\hat y_n

    An outlier's term is bounded below by :math:`\\log((1 - \\hat\\pi)\\hat\\gamma)`,
    so wrong targets cannot dominate it, while tighter inlier residuals raise it.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Observed (possibly contaminated) targets.
    y_pred : array-like of the same shape
        Predictions.
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights.

    Returns
    -------
    score : float
        Weighted mean log-likelihood, in the targets' (log) units.
    """
    mixture, residuals = _residual_mixture(y_true, y_pred, sample_weight)
    log_lik = mixture.score_samples(residuals)
    return float(np.average(log_lik, weights=sample_weight))


def inlier_mse(y_true, y_pred, *, sample_weight=None) -> float:
    """Mean squared error of the inliers, weighted by their responsibilities.

    Lower is better:

    .. math::

        \\frac{\\sum_n w_n r_n \\lVert e_n \\rVert^2}{\\sum_n w_n r_n}

    with :math:`r_n` the inlier probability of residual :math:`e_n` under a
    Gaussian-uniform mixture fitted to the residuals.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Observed (possibly contaminated) targets.
    y_pred : array-like of the same shape
        Predictions.
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights.

    Returns
    -------
    mse : float
        Responsibility-weighted mean squared error.
    """
    mixture, residuals = _residual_mixture(y_true, y_pred, sample_weight)
    weights = mixture.predict_proba(residuals)[:, 0]
    if sample_weight is not None:
        weights = weights * np.asarray(sample_weight, dtype=np.float64)
    squared = np.sum(residuals**2, axis=1)
    return float(np.sum(weights * squared) / max(np.sum(weights), np.finfo(float).tiny))


#: Scorers for ``GridSearchCV(scoring=...)``, greater is better for all of them:
#: ``'gum_log_likelihood'`` (:func:`gum_log_likelihood`), ``'neg_inlier_mse'``
#: (minus :func:`inlier_mse`) and ``'neg_median_absolute_error'`` (scikit-learn's).
ROBUST_SCORERS = {
    "gum_log_likelihood": make_scorer(gum_log_likelihood),
    "neg_inlier_mse": make_scorer(inlier_mse, greater_is_better=False),
    "neg_median_absolute_error": get_scorer("neg_median_absolute_error"),
}

__all__ = ["ROBUST_SCORERS", "gum_log_likelihood", "inlier_mse"]
