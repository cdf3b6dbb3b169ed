"""Clean-test error, outlier detection and cost of DeepGUMRegressor versus plain L2.

Every estimator runs with its **defaults**: only ``random_state`` (and ``groups`` in
the groups section) is passed, so the numbers describe whatever the defaults are
when the script runs (they are printed with the results). Labelled references are
the exceptions: ``deepgum_wd0`` (``weight_decay=0``), ``deepgum_no_swa``
(``swa_start=None``), ``l2_bayes_weights`` (true-posterior sample weights) and the
ablations ``deepgum_gaussian`` (``inlier_df=None``) and ``deepgum_warmup{0,20,50}``
(``warm_up_epochs``) in the robustness section, ``deepgum_paper_precision``
(``precision_shrinkage=0``) in the do-no-harm section; and the clean-subset fits'
epoch counts, scaled to equal optimiser steps. ``--quick`` also passes one reduced
``max_epochs``, the same to every method, and says so.

Sections
--------
``robustness``
    Law: ``make_contaminated_regression(n_samples=1000, n_features=5, n_targets=1,
    outlier_kind="uniform", noise=0.1, outlier_rate=rate, random_state=seed)``:
    ``X ~ U(-1, 1)^5``, ``y = f(X) + N(0, 0.1^2)`` with ``f`` a fixed standardised
    smooth function, and exactly ``round(rate * n)`` rows replaced by
    ``U(-6, 6)`` (the full law string is printed). Rates 0, 0.2, 0.4, 0.6; seeds
    ``0..S-1`` (S = 9 in the full mode: the ratios below move by ~0.1 between
    groups of 3 seeds; ``--seeds`` overrides) drive both the draw and
    ``random_state``. Methods: ``deepgum`` (DeepGUMRegressor on the contaminated
    data), ``deepgum_clean`` (DeepGUM on the truly clean rows), ``deepgum_wd0``
    (DeepGUM with ``weight_decay=0``: the ablation of that default),
    ``deepgum_no_swa`` (DeepGUM with ``swa_start=None``: no weight averaging), ``l2``
    (RobustNetRegressor(loss='l2') on the contaminated data), ``l2_bayes_weights``
    (the same with ``sample_weight = 1 - outlier_proba_bayes``, the true posterior
    of each row being correct: what perfect DeepGUM weights would give; its
    training-set AUC of ``|residual|`` is shown beside DeepGUM's) and ``oracle`` (L2
    on the clean rows). Training budgets: every fit of a (rate, seed) cell gets the
    same number of optimiser steps, not of epochs: an epoch is ``ceil(max(n, m) /
    batch_size)`` steps (``m = min_rows_per_epoch``), so when the clean subset has
    fewer, the two clean-subset fits have their epoch counts scaled by
    ``r = steps(n_all) / steps(n_clean)`` (``max_epochs`` rounded
    up, DeepGUM's ``warm_up_epochs`` and ``epochs_per_round`` rounded, see
    :func:`equal_step_params`); the RMSE table gives the epochs each ran. Clean
    test set: 2,000 rows of the
    same law with ``outlier_rate=0, noise=0`` (targets are ``f(X)``), one fixed
    ``random_state`` (:data:`TEST_SEED`). Reported: clean-test RMSE; for
    ``deepgum`` the ROC-AUC of ``outlier_scores_`` and the F1 of ``outliers_``
    against the true mask, each beside the Bayes-optimal value from
    ``outlier_proba_bayes`` (AUC of the posterior, F1 of ``posterior > 0.5``), and
    the learnt inlier prior ``mixture_.weights_[0]`` beside the true inlier share.
    Targets: RMSE(deepgum)/RMSE(deepgum_clean) <= 1.10 at 20 % and 40 %, <= 1.25 at
    60 %; RMSE(deepgum)/RMSE(l2) <= 1.05 at 0 %; AUC >= 0.98 and F1 >= 0.93 at
    20 % and 40 %. Ratios are of the means over seeds; the ratio to the oracle is
    given too. Ablations of two defaults the estimator's docstring argues for,
    in a table of their own (info rows, no target; clean-test RMSE, AUC, F1 and
    inlier prior beside ``deepgum``'s on the same draws and seeds, plus a reading
    per ablation: the paired per-seed difference called higher/lower when its mean
    exceeds two standard errors): ``deepgum_gaussian`` (``inlier_df=None``, the
    paper's Gaussian inlier, against the Student-t default) at 20/40/60 %, and
    ``deepgum_warmup0`` / ``deepgum_warmup20`` / ``deepgum_warmup50``
    (``warm_up_epochs`` against the default) at 40 % (see
    :data:`ROBUST_ABLATIONS`). They run on all the section's seeds: 54 more fits
    in the full mode.
``groups``
    ``make_contaminated_regression(n_samples=1000, n_features=5, n_targets=K,
    outlier_rate=0, noise=0.1, random_state=seed)`` for K = 2 and 4, then every
    output column is corrupted independently with ``contaminate(y, rate=0.2,
    kind="uniform", groups="each", random_state=seed)``: per column, exactly
    ``round(0.2 n)`` rows get ``U(min - range/2, max + range/2)`` of that column, so
    only some outputs of a row are wrong. DeepGUMRegressor(groups=None) (one latent
    per row) versus DeepGUMRegressor(groups="each") (one per column): clean-test
    RMSE, per-entry ROC-AUC / F1 against the (n, K) mask (the per-row model's row
    score broadcast to every column) and row-level ROC-AUC against "any entry of
    the row is wrong", each beside the Bayes-optimal value computed from the true
    law (per entry: N(f, 0.1^2) versus the uniform box, prior ``round(0.2 n)/n``;
    per row: 1 - prod of the per-entry inlier posteriors). References (RMSE only,
    no target): ``l2`` (RobustNetRegressor(loss='l2') on the corrupted targets) and
    ``oracle`` (the same on the targets before contamination). Target: the
    per-column model's mean RMSE is lower than the per-row model's.
``timing``
    Fit seconds of DeepGUMRegressor and RobustNetRegressor(loss='l2') at their
    defaults on the 20 % robustness draw (seed 0): one untimed warm-up fit of each,
    then interleaved fits (gum, l2, gum, l2, ...), 5 of each (3 with ``--quick``).
    The fitted ``n_iter_`` must be equal for every fit of both (else FAIL: the
    ratio would compare different numbers of epochs). Target:
    median(gum) / median(l2) <= 1.15. The load average is printed before and after
    (the machine may be shared).
``do_no_harm``
    Tasks where outliers are identifiable but the network fits even the inliers
    poorly. (a) ``heavy_tail``: the robustness law with ``noise=0`` plus
    ``0.3 * t_3`` noise (Student-t, 3 degrees of freedom, scale 0.3, drawn with
    ``default_rng([seed, 3])``) on the target, then 20 % whole-row uniform outliers
    by ``contaminate(y, 0.2, kind="uniform", random_state=default_rng([seed, 1]))``;
    1,000 rows. (b) ``many_outputs``: ``make_contaminated_regression(n_samples=300,
    n_features=10, n_targets=8, noise=0.3, outlier_rate=0.2,
    outlier_kind="uniform", random_state=seed)``, row-level outliers. (c) both at
    0 % outliers.
    DeepGUMRegressor versus RobustNetRegressor(loss='l2'): requirement
    mean(deepgum) <= mean(l2) + pooled std, pooled std = sqrt((std_gum^2 +
    std_l2^2) / 2) over seeds (taken as 0 with a single seed). The learnt inlier
    prior is shown beside the true inlier share (a prior collapsed far below the
    truth is the failure mode), with AUC beside the Bayes-optimal AUC.
    ``deepgum_paper_precision`` (``precision_shrinkage=0``: the paper's inverse
    inlier covariance weighting the outputs of the loss) is shown as the ablation
    of that default (no target).

``--quick`` (CI smoke run, under 2 minutes on 2 cores; PASS/FAIL informational):
1 seed, rates {0, 0.4}, 300 training rows everywhere, groups with K = 4 only,
timing with 3 fits of each, and ``max_epochs = min(default max_epochs of both,
warm_up_epochs + 4 * epochs_per_round)`` passed equally to every estimator. The
ablations run at 40 % only; a warm-up at least that ``max_epochs`` long (20 and 50)
would leave no EM round, so it is skipped and the report says so.

Outputs and caching
-------------------
Printed and written to ``--out`` (default ``benchmarks/results/regressor/``;
``.../regressor/quick/`` with ``--quick``): ``results.md`` (command, environment,
estimator defaults, law strings, tables with PASS/FAIL), ``results.csv`` (one row
per (section, task, method, rate, seed) cell; timing: one row per fit) and
``robustness_rmse.png`` (clean-test RMSE versus rate, mean +- std over seeds). With
``--only SECTION`` the files get an ``_<SECTION>`` suffix. Each finished cell is
appended as a JSON line to ``cells.jsonl``; a rerun (``--resume``, the default)
reuses the cells whose fingerprint (a hash of the sources of the imported
``sk_deepgum`` modules, the sizes and epochs of the mode, and the torch thread
count) matches, so an interrupted run resumes and a changed package is recomputed.
``--no-resume`` recomputes everything. Timing cells are never cached. Every
printed number is measured in the run or read from such a cell.

How to run
----------
::

    python benchmarks/bench_regressor.py [--quick] [--only robustness] [--seeds 3]

The committed ``benchmarks/results_regressor.md`` is the report of a full run,
copied (before ``bench_suite.py --full``, whose RESULTS.md quotes its timing
table)::

    python benchmarks/bench_regressor.py --no-resume
    cp benchmarks/results/regressor/results.md benchmarks/results_regressor.md
"""

from __future__ import annotations

import argparse
import csv
import datetime
import hashlib
import json
import math
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy
import sklearn
import skorch
import torch
from scipy import stats
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.utils import Bunch

import sk_deepgum
from sk_deepgum import DeepGUMRegressor
from sk_deepgum._data import resolve_batch_size
from sk_deepgum.baselines import RobustNetRegressor
from sk_deepgum.datasets import contaminate, make_contaminated_regression
from sk_deepgum.datasets._common import outlier_posterior

SECTIONS = ("robustness", "groups", "timing", "do_no_harm")
#: Bump when what a cached cell contains changes (the fingerprint hashes the
#: package, not this script). 2: clean-subset fits at equal optimiser steps.
CACHE_VERSION = 2
TEST_SEED = 1_000_003
TEST_ROWS = 2000
ROBUST_LAW = {"n_features": 5, "n_targets": 1, "outlier_kind": "uniform", "noise": 0.1}
ROBUST_METHODS = (
    "deepgum",
    "deepgum_clean",
    "deepgum_wd0",
    "deepgum_no_swa",
    "l2",
    "l2_bayes_weights",
    "oracle",
)
#: Ablations of DeepGUM defaults in the robustness section, in a table of their own
#: (info, no target): method -> (parameters changed, rates fitted). Each is fitted
#: on the contaminated rows of the same draws and seeds as ``deepgum``.
ROBUST_ABLATIONS = {
    "deepgum_gaussian": ({"inlier_df": None}, (0.2, 0.4, 0.6)),
    "deepgum_warmup0": ({"warm_up_epochs": 0}, (0.4,)),
    "deepgum_warmup20": ({"warm_up_epochs": 20}, (0.4,)),
    "deepgum_warmup50": ({"warm_up_epochs": 50}, (0.4,)),
}
#: Full mode: the robustness section's seeds (its ratios are seed-sensitive); the
#: other sections use ``--seeds`` (3).
FULL_ROBUST_SEEDS = 9
GROUP_METHODS = ("deepgum_row", "deepgum_each", "l2", "oracle")
GROUP_RATE, GROUP_NOISE, GROUP_FEATURES = 0.2, 0.1, 5
DNH_RATES = (0.0, 0.2)
DNH_ABLATION = "deepgum_paper_precision"
DNH_METHODS = ("deepgum", "l2", DNH_ABLATION)
T_DF, T_SCALE = 3, 0.3
MANY_OUTPUTS = {"n_features": 10, "n_targets": 8, "noise": 0.3}
PACKAGE_DIR = Path(sk_deepgum.__file__).resolve().parent
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "regressor"


@dataclass(frozen=True)
class Settings:
    """Sizes of one run mode (full or quick)."""

    quick: bool
    seeds: tuple[int, ...]
    robust_seeds: tuple[int, ...]
    rates: tuple[float, ...]
    n_robust: int
    n_groups: int
    group_targets: tuple[int, ...]
    n_heavy_tail: int
    n_many_outputs: int
    timing_runs: int
    max_epochs: int | None  # None: the estimators' defaults
    threads: int

    def cache_identity(self) -> dict:
        """What a cached cell's result depends on (not the seeds or rates chosen)."""
        keep = (
            "quick",
            "n_robust",
            "n_groups",
            "n_heavy_tail",
            "n_many_outputs",
            "max_epochs",
            "threads",
        )
        return {k: getattr(self, k) for k in keep}


@dataclass
class SectionResult:
    """Raw rows, markdown lines and checks of one section."""

    rows: list = field(default_factory=list)
    lines: list = field(default_factory=list)
    checks: list = field(default_factory=list)


def quick_max_epochs() -> int:
    """The reduced ``max_epochs`` of ``--quick``, from the current defaults.

    Returns
    -------
    int
        ``min(default max_epochs of both estimators, warm_up_epochs + 4 *
        epochs_per_round)``: enough for a few EM rounds after DeepGUM's warm-up.
    """
    gum, l2 = DeepGUMRegressor(), RobustNetRegressor()
    rounds = gum.warm_up_epochs + 4 * gum.epochs_per_round
    return int(min(gum.max_epochs, l2.max_epochs, rounds))


def make_settings(args) -> Settings:
    """Turn the parsed command line into :class:`Settings`."""
    threads = torch.get_num_threads()
    if args.quick:
        return Settings(
            quick=True,
            seeds=tuple(range(args.seeds if args.seeds_given else 1)),
            robust_seeds=tuple(range(args.seeds if args.seeds_given else 1)),
            rates=(0.0, 0.4),
            n_robust=300,
            n_groups=300,
            group_targets=(4,),
            n_heavy_tail=300,
            n_many_outputs=300,
            timing_runs=3,
            max_epochs=quick_max_epochs(),
            threads=threads,
        )
    return Settings(
        quick=False,
        seeds=tuple(range(args.seeds)),
        robust_seeds=tuple(
            range(args.seeds if args.seeds_given else FULL_ROBUST_SEEDS)
        ),
        rates=(0.0, 0.2, 0.4, 0.6),
        n_robust=1000,
        n_groups=1000,
        group_targets=(2, 4),
        n_heavy_tail=1000,
        n_many_outputs=300,
        timing_runs=5,
        max_epochs=None,
        threads=threads,
    )


# ---------------------------------------------------------------------------
# Estimators and metrics


def make_estimator(method: str, seed: int, settings: Settings):
    """Unfitted estimator at its defaults (only ``random_state``, ``groups``, and the
    quick mode's ``max_epochs`` are set).

    Parameters
    ----------
    method : str
        ``deepgum*`` names give a DeepGUMRegressor (``deepgum_each``: groups="each";
        ``deepgum_wd0``: weight_decay=0, ``deepgum_no_swa``: swa_start=None,
        ``deepgum_paper_precision``: precision_shrinkage=0, and the
        :data:`ROBUST_ABLATIONS`, ablations of those defaults);
        ``l2`` and ``oracle`` a RobustNetRegressor(loss='l2').
    seed : int
        ``random_state``.
    settings : Settings
        Supplies the reduced ``max_epochs`` in quick mode.
    """
    kwargs = {"random_state": seed}
    if settings.max_epochs is not None:
        kwargs["max_epochs"] = settings.max_epochs
    if method == "deepgum_each":
        return DeepGUMRegressor(groups="each", **kwargs)
    if method == "deepgum_wd0":
        return DeepGUMRegressor(weight_decay=0.0, **kwargs)
    if method == "deepgum_no_swa":
        return DeepGUMRegressor(swa_start=None, **kwargs)
    if method == "deepgum_paper_precision":
        return DeepGUMRegressor(precision_shrinkage=0.0, **kwargs)
    if method in ROBUST_ABLATIONS:
        return DeepGUMRegressor(**ROBUST_ABLATIONS[method][0], **kwargs)
    if method.startswith("deepgum"):
        return DeepGUMRegressor(**kwargs)
    if method in ("l2", "l2_bayes_weights", "oracle"):
        return RobustNetRegressor(loss="l2", **kwargs)
    raise ValueError(f"unknown method {method!r}")


def steps_per_epoch(params: dict, n_rows: int) -> int:
    """Optimiser steps in one epoch of a network estimator with ``params`` on
    ``n_rows`` training rows (array input): ``ceil(max(n, min_rows_per_epoch) / B)``
    with ``B`` the batch size a fit resolves (``batch_size='auto'`` grows with n;
    a partial batch is a step; a small set is cycled up to ``min_rows_per_epoch``)."""
    rows = max(n_rows, params.get("min_rows_per_epoch", 0))
    batch = resolve_batch_size(params["batch_size"], n_rows, lazy=False)
    return math.ceil(rows / batch)


def equal_step_params(estimator, n_all: int, n_fit: int) -> dict:
    """Epoch counts that give a fit on ``n_fit`` rows the optimiser steps of the same
    estimator fitted on ``n_all`` rows.

    An epoch is :func:`steps_per_epoch` steps, so a fit on fewer rows (the clean
    subset) for as many epochs can take fewer steps (not when both sets are within
    ``min_rows_per_epoch``, which cycles them to the same length). With
    ``r = steps(n_all) / steps(n_fit)``: ``max_epochs`` becomes
    ``ceil(max_epochs * r)`` (never fewer steps; more by less than one epoch of
    ``n_fit`` rows), and DeepGUM's ``warm_up_epochs`` and ``epochs_per_round``
    become ``round(value * r)`` (at least 1 for the latter), so that its L2
    warm-up and the steps between EM rounds stay about as long in steps.
    ``swa_start`` is a share of ``max_epochs``: it follows. Empty when both
    counts of steps per epoch are equal.

    Parameters
    ----------
    estimator : DeepGUMRegressor or RobustNetRegressor
        Unfitted; its current parameters are scaled.
    n_all : int
        Rows of the fits being matched (every row).
    n_fit : int
        Rows this estimator will be fitted on.
    """
    params = estimator.get_params()
    steps_all = steps_per_epoch(params, n_all)
    steps_fit = steps_per_epoch(params, n_fit)
    if steps_all == steps_fit:
        return {}

    # Integer arithmetic: 100 * 32 / 25 must give 128, not ceil(128.00000000000003).
    def ceil_scaled(epochs: int) -> int:
        return -(-epochs * steps_all // steps_fit)

    def round_scaled(epochs: int) -> int:
        return (2 * epochs * steps_all + steps_fit) // (2 * steps_fit)

    out = {"max_epochs": ceil_scaled(params["max_epochs"])}
    if "warm_up_epochs" in params:
        out["warm_up_epochs"] = round_scaled(params["warm_up_epochs"])
        out["epochs_per_round"] = max(1, round_scaled(params["epochs_per_round"]))
    return out


def rmse(y_pred: np.ndarray, y_true: np.ndarray) -> float:
    """Root mean squared error over every entry."""
    return float(np.sqrt(np.mean((np.asarray(y_pred) - np.asarray(y_true)) ** 2)))


def auc_or_nan(mask: np.ndarray, scores: np.ndarray) -> float:
    """ROC-AUC of ``scores`` against ``mask`` (flattened); NaN with one class only."""
    mask, scores = np.ravel(mask), np.ravel(scores)
    if mask.all() or not mask.any():
        return math.nan
    return float(roc_auc_score(mask, scores))


def f1_or_nan(mask: np.ndarray, flags: np.ndarray) -> float:
    """F1 of boolean ``flags`` against ``mask`` (flattened); NaN without positives."""
    mask, flags = np.ravel(mask), np.ravel(flags)
    if not mask.any():
        return math.nan
    return float(f1_score(mask, flags, zero_division=0.0))


def inlier_prior(model) -> float:
    """Learnt inlier prior ``mixture_.weights_[..., 0]`` (mean over latent groups)."""
    return float(np.mean(np.asarray(model.mixture_.weights_)[..., 0]))


def fit_and_score(estimator, X, y, test: Bunch, sample_weight=None) -> dict:
    """Fit, then clean-test RMSE, epochs run and fit seconds.

    Parameters
    ----------
    estimator : DeepGUMRegressor or RobustNetRegressor
    X : ndarray of shape (n, p)
    y : ndarray of shape (n,) or (n, K)
    test : Bunch
        Clean test set with ``X`` and ``y_noiseless``.
    sample_weight : ndarray of shape (n,) or None
        Passed to ``fit``.
    """
    start = time.perf_counter()
    estimator.fit(X, y, sample_weight=sample_weight)
    seconds = time.perf_counter() - start
    return {
        "rmse": rmse(estimator.predict(test.X), test.y_noiseless),
        "n_iter": int(estimator.n_iter_),
        "fit_seconds": seconds,
        "n_train": len(X),
    }


def row_detection(model, mask: np.ndarray) -> dict:
    """Row-level detection metrics of a fitted DeepGUMRegressor.

    Parameters
    ----------
    model : DeepGUMRegressor
    mask : ndarray of bool, shape (n,)
        True outlier rows.
    """
    return {
        "auc": auc_or_nan(mask, model.outlier_scores_),
        "f1": f1_or_nan(mask, model.outliers_),
        "flagged_share": float(np.mean(model.outliers_)),
        "inlier_prior": inlier_prior(model),
        "true_inlier_share": float(1.0 - np.mean(mask)),
    }


def bayes_metrics(mask: np.ndarray, proba: np.ndarray, prefix: str = "bayes") -> dict:
    """AUC of the Bayes posterior and F1 of ``posterior > 0.5`` against ``mask``."""
    return {
        f"{prefix}_auc": auc_or_nan(mask, proba),
        f"{prefix}_f1": f1_or_nan(mask, np.asarray(proba) > 0.5),
    }


# ---------------------------------------------------------------------------
# Bayes-optimal posteriors for the laws built here (contaminate's uniform box)


def contaminate_box(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Default ``contaminate(kind="uniform")`` box per column of the clean ``y``:
    ``[min - range/2, max + range/2]`` (its documented law)."""
    Y = np.asarray(y, dtype=float).reshape(len(y), -1)
    low, high = Y.min(axis=0), Y.max(axis=0)
    half = 0.5 * (high - low)
    return low - half, high + half


def uniform_log_density(y: np.ndarray, low, high) -> np.ndarray:
    """Per-entry log density of ``U(low_j, high_j)``, shape of ``y`` (n, K)."""
    inside = (y >= low) & (y <= high)
    return np.where(inside, -np.log(high - low), -np.inf)


# ---------------------------------------------------------------------------
# Data


def clean_test_set(n_features: int, n_targets: int) -> Bunch:
    """2,000 clean, noiseless rows (``y_noiseless = f(X)``) with :data:`TEST_SEED`."""
    return make_contaminated_regression(
        n_samples=TEST_ROWS,
        n_features=n_features,
        n_targets=n_targets,
        outlier_rate=0.0,
        noise=0.0,
        random_state=TEST_SEED,
        return_details=True,
    )


def robustness_data(rate: float, seed: int, n: int) -> Bunch:
    """The robustness law at ``rate``, drawn with ``random_state=seed``."""
    return make_contaminated_regression(
        n_samples=n,
        outlier_rate=rate,
        random_state=seed,
        return_details=True,
        **ROBUST_LAW,
    )


def groups_data(n_targets: int, seed: int, n: int) -> Bunch:
    """Clean K-target law, each column corrupted independently (20 % uniform).

    Returns
    -------
    Bunch
        ``X``, ``y`` (n, K) corrupted, ``y_uncorrupted`` (n, K) the targets before
        contamination, ``mask`` (n, K), ``proba`` (n, K) the Bayes per-entry outlier
        posterior, ``law`` (str).
    """
    d = make_contaminated_regression(
        n_samples=n,
        n_features=GROUP_FEATURES,
        n_targets=n_targets,
        outlier_rate=0.0,
        noise=GROUP_NOISE,
        random_state=seed,
        return_details=True,
    )
    y, mask = contaminate(
        d.y, rate=GROUP_RATE, kind="uniform", groups="each", random_state=seed
    )
    low, high = contaminate_box(d.y)
    log_in = stats.norm.logpdf(y - d.y_noiseless, scale=GROUP_NOISE)
    prior = round(GROUP_RATE * n) / n
    proba = outlier_posterior(log_in, uniform_log_density(y, low, high), prior)
    law = (
        f"{d.law}; then contaminate(y, rate={GROUP_RATE}, kind='uniform', "
        "groups='each', random_state=seed): per column, round(0.2 n) rows replaced "
        "by U(min - range/2, max + range/2) of that column"
    )
    return Bunch(X=d.X, y=y, y_uncorrupted=d.y, mask=mask, proba=proba, law=law)


def heavy_tail_data(rate: float, seed: int, n: int) -> Bunch:
    """Do-no-harm task (a): noiseless law + 0.3 t_3 noise, + uniform row outliers.

    Returns
    -------
    Bunch
        ``X``, ``y`` (n,), ``mask`` (n,), ``proba`` (n,) Bayes outlier posterior,
        ``law`` (str).
    """
    base = make_contaminated_regression(
        n_samples=n,
        outlier_rate=0.0,
        random_state=seed,
        return_details=True,
        **{**ROBUST_LAW, "noise": 0.0},
    )
    f = base.y_noiseless
    y_in = f + T_SCALE * np.random.default_rng([seed, 3]).standard_t(T_DF, size=n)
    y, mask = contaminate(
        y_in, rate, kind="uniform", random_state=np.random.default_rng([seed, 1])
    )
    low, high = contaminate_box(y_in)
    log_in = stats.t.logpdf((y - f) / T_SCALE, df=T_DF) - math.log(T_SCALE)
    log_out = uniform_log_density(y[:, None], low, high)[:, 0]
    proba = outlier_posterior(log_in, log_out, round(rate * n) / n)
    law = (
        f"{base.law}; then y += {T_SCALE} * t_{T_DF} (default_rng([seed, 3]))"
        f"; then contaminate(y, {rate}, kind='uniform', random_state="
        "default_rng([seed, 1])): whole rows replaced by U(min - range/2, "
        "max + range/2)"
    )
    return Bunch(X=base.X, y=y, mask=mask, proba=proba, law=law)


def many_outputs_data(rate: float, seed: int, n: int) -> Bunch:
    """Do-no-harm task (b): 8 targets, 10 features, few rows, row-level outliers."""
    d = make_contaminated_regression(
        n_samples=n,
        outlier_rate=rate,
        outlier_kind="uniform",
        random_state=seed,
        return_details=True,
        **MANY_OUTPUTS,
    )
    return Bunch(
        X=d.X, y=d.y, mask=d.outlier_mask, proba=d.outlier_proba_bayes, law=d.law
    )


# ---------------------------------------------------------------------------
# Cache of finished cells


class CellCache:
    """JSON-lines cache of (section, task, method, rate, seed) results.

    Parameters
    ----------
    path : Path
        ``cells.jsonl``; appended to, one record per finished cell.
    fingerprint : str
        Records with another fingerprint are ignored (stale).
    resume : bool
        False: ignore every existing record (they are superseded by new ones).
    """

    def __init__(self, path: Path, fingerprint: str, resume: bool):
        self.path, self.fingerprint = path, fingerprint
        self.records: dict = {}
        self.n_stale = self.hits = self.misses = 0
        if resume and path.exists():
            for line in path.read_text().splitlines():
                record = json.loads(line)
                if record.get("fingerprint") == fingerprint:
                    self.records[tuple(record["key"])] = record["result"]
                else:
                    self.n_stale += 1

    @staticmethod
    def key(section, task, method, rate, seed) -> tuple:
        """Normalised cell key."""
        return (section, task, method, round(float(rate), 6), int(seed))

    def get_or_compute(self, key: tuple, compute: Callable[[], dict]) -> dict:
        """Cached result of ``key``, or ``compute()`` stored as a new line."""
        if key in self.records:
            self.hits += 1
            return {**self.records[key], "cached": True}
        result = compute()
        self.misses += 1
        if "error" in result:  # not cached: a rerun retries the cell
            return {**result, "cached": False}
        self.records[key] = result
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as out:
            record = {"key": list(key), "fingerprint": self.fingerprint}
            out.write(json.dumps({**record, "result": result}) + "\n")
        return {**result, "cached": False}


def source_fingerprint(settings: Settings) -> str:
    """Hash of the imported ``sk_deepgum`` modules' sources (the code the fits run),
    the cache version and the mode's sizes."""
    digest = hashlib.sha256()
    modules = sorted(
        name
        for name in sys.modules
        if name == "sk_deepgum" or name.startswith("sk_deepgum.")
    )
    for name in modules:
        path = getattr(sys.modules[name], "__file__", None)
        if path:
            digest.update(name.encode())
            digest.update(Path(path).read_bytes())
    identity = {"cache_version": CACHE_VERSION, **settings.cache_identity()}
    digest.update(json.dumps(identity, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def run_cell(cache, section, task, method, rate, seed, compute) -> dict:
    """One raw row: the key fields plus the (cached or computed) result."""
    key = CellCache.key(section, task, method, rate, seed)

    def guarded():
        try:
            return compute()
        except Exception as exc:  # reported in the tables and the summary
            return {"rmse": math.nan, "error": f"{type(exc).__name__}: {exc}"}

    result = cache.get_or_compute(key, guarded)
    row = dict(zip(("section", "task", "method", "rate", "seed"), key, strict=True))
    row.update(result)
    if "error" in result:
        print(
            f"  {section}/{task} {method} rate={rate:g} seed={seed} FAILED: "
            f"{result['error']}",
            flush=True,
        )
        return row
    flag = "cached" if result["cached"] else f"{result.get('fit_seconds', 0):.1f}s"
    print(
        f"  {section}/{task} {method:<13} rate={rate:<4g} seed={seed} "
        f"rmse={result['rmse']:.4f} ({flag})",
        flush=True,
    )
    return row


# ---------------------------------------------------------------------------
# Aggregation and formatting


def select(rows, metric, **where) -> np.ndarray:
    """Values of ``metric`` in the rows matching every ``where`` field."""
    return np.array(
        [
            r[metric]
            for r in rows
            if all(r[k] == v for k, v in where.items()) and metric in r
        ],
        dtype=float,
    )


def mean_std(values: np.ndarray) -> tuple[float, float]:
    """Mean and sample std (ddof=1; NaN with fewer than 2 values), NaNs dropped."""
    values = values[~np.isnan(values)]
    if values.size == 0:
        return math.nan, math.nan
    std = float(np.std(values, ddof=1)) if values.size > 1 else math.nan
    return float(np.mean(values)), std


def fmt(value: float, digits: int = 4) -> str:
    """Number with ``digits`` significant digits; 'n/a' for NaN."""
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}g}"


def fmt_pm(values: np.ndarray, digits: int = 4) -> str:
    """'mean ± std' over seeds ('mean' alone with a single value)."""
    mean, std = mean_std(values)
    if math.isnan(mean):
        return "n/a"
    if math.isnan(std):
        return fmt(mean, digits)
    # Equal values (e.g. a true share fixed by the law) differ only by rounding.
    spread = "0" if std <= 1e-12 * max(1.0, abs(mean)) else f"{std:.2g}"
    return f"{fmt(mean, digits)} ± {spread}"


def fmt_epochs(rows, **where) -> str:
    """The distinct ``n_iter_`` values of the matching rows."""
    values = sorted({int(v) for v in select(rows, "n_iter", **where)})
    return "/".join(str(v) for v in values) or "n/a"


def verdict(ok: bool | None) -> str:
    """'PASS', 'FAIL' or 'n/a' (nothing measured)."""
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def check(section, name, value, target_text, ok, detail="") -> dict:
    """One row of a checks table (``ok`` None: not measurable; 'info': no target)."""
    if isinstance(value, float) and math.isnan(value):
        ok = None
    result = (
        "info" if isinstance(ok, str) else verdict(None if ok is None else bool(ok))
    )
    return {
        "section": section,
        "check": name,
        "value": value if isinstance(value, str) else fmt(value),
        "target": target_text,
        "verdict": result,
        "detail": detail,
    }


def md_table(headers, rows) -> list[str]:
    """Markdown table lines."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers)]
    lines[1] += "|"
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def checks_table(checks, quick: bool) -> list[str]:
    """Markdown lines of a checks table (with the quick-mode caveat)."""
    head = "verdict (informational: --quick)" if quick else "verdict"
    rows = [
        (c["check"], c["value"], c["target"], c["verdict"], c["detail"]) for c in checks
    ]
    return md_table(("check", "value", "target", head, "detail"), rows)


def ratio_of_means(rows, metric, num: dict, den: dict) -> tuple[float, str]:
    """mean(num) / mean(den), and the per-seed ratios as 'mean ± std'."""
    a, b = select(rows, metric, **num), select(rows, metric, **den)
    if a.size == 0 or b.size == 0:
        return math.nan, "n/a"
    per_seed = a / b if a.shape == b.shape else np.array([math.nan])
    return float(np.mean(a) / np.mean(b)), f"per seed {fmt_pm(per_seed, 3)}"


# ---------------------------------------------------------------------------
# Section: robustness


def robustness_cell(method, data, test, seed, settings) -> dict:
    """Fit one robustness method on one draw and score it."""
    clean = ~data.outlier_mask
    all_rows = ("deepgum", "deepgum_wd0", "deepgum_no_swa", "l2", "l2_bayes_weights")
    if method in all_rows or method in ROBUST_ABLATIONS:
        X, y = data.X, data.y
    else:
        X, y = data.X[clean], data.y[clean]
    estimator = make_estimator(method, seed, settings)
    if len(X) < len(data.X):
        # Fewer rows, fewer batches per epoch: without this the clean-subset fits
        # take fewer optimiser steps and flatter the ratios to them.
        estimator.set_params(**equal_step_params(estimator, len(data.X), len(X)))
    weights = None
    if method == "l2_bayes_weights":
        weights = 1.0 - data.outlier_proba_bayes
    result = fit_and_score(estimator, X, y, test, sample_weight=weights)
    if method == "l2_bayes_weights":
        # With one output any score monotone in |residual| ranks rows alike, so
        # this AUC is what a DeepGUM whose net ended here could reach.
        residual = np.abs(y - estimator.predict(X)).reshape(len(y), -1).sum(1)
        result["auc"] = auc_or_nan(data.outlier_mask, residual)
    if method == "deepgum" or method in ROBUST_ABLATIONS:
        result.update(row_detection(estimator, data.outlier_mask))
        result.update(bayes_metrics(data.outlier_mask, data.outlier_proba_bayes))
    elif method == "deepgum_clean":
        result.update(row_detection(estimator, np.zeros(len(X), dtype=bool)))
    return result


def run_robustness(settings: Settings, cache: CellCache) -> SectionResult:
    """Fit every (rate, seed, method) cell and summarise (see the module docstring)."""
    out = SectionResult()
    test = clean_test_set(ROBUST_LAW["n_features"], ROBUST_LAW["n_targets"])
    laws = {}
    ablations, skipped = ablations_to_run(settings)
    for rate in settings.rates:
        extra = [m for m in ablations if rate in ROBUST_ABLATIONS[m][1]]
        for seed in settings.robust_seeds:
            data = robustness_data(rate, seed, settings.n_robust)
            laws.setdefault(rate, data.law)
            for method in (*ROBUST_METHODS, *extra):
                out.rows.append(
                    run_cell(
                        cache,
                        "robustness",
                        "uniform_p5_K1",
                        method,
                        rate,
                        seed,
                        lambda m=method, d=data, s=seed: robustness_cell(
                            m, d, test, s, settings
                        ),
                    )
                )
    out.lines += ["## robustness", "", "Laws (training draw of seed 0 per rate):", ""]
    out.lines += [f"- rate {rate:g}: `{law}`" for rate, law in laws.items()]
    out.lines += [f"- clean test: `{test.law}`", ""]
    out.lines += robustness_tables(out.rows, settings)
    out.lines += ["", *ablation_lines(out.rows, settings, ablations, skipped)]
    out.checks = robustness_checks(out.rows, settings)
    out.checks += ablation_checks(out.rows, settings, ablations)
    out.lines += ["", *checks_table(out.checks, settings.quick), ""]
    return out


def ablations_to_run(settings: Settings) -> tuple[list[str], dict]:
    """The :data:`ROBUST_ABLATIONS` this mode fits, and why any other is skipped.

    A warm-up as long as the quick mode's reduced ``max_epochs`` would leave no EM
    round after it (an L2 fit under another name): skipped, and the report says so.
    """
    run, skipped = [], {}
    for method, (params, rates) in ROBUST_ABLATIONS.items():
        fitted = [r for r in rates if r in settings.rates]
        warm_up = params.get("warm_up_epochs")
        if not fitted:
            skipped[method] = "none of its rates is run in this mode"
        elif (
            warm_up is not None
            and settings.max_epochs is not None
            and warm_up >= settings.max_epochs
        ):
            skipped[method] = (
                f"warm_up_epochs={warm_up} >= this mode's max_epochs="
                f"{settings.max_epochs}: no EM round would follow the warm-up"
            )
        else:
            run.append(method)
    return run, skipped


def _changed(method: str) -> str:
    """'name=value' of the parameters an ablation changes, then the default's."""
    default = DeepGUMRegressor().get_params()
    return ", ".join(
        f"{k}={v} (default {default[k]})"
        for k, v in ROBUST_ABLATIONS[method][0].items()
    )


def _paired_reading(rows, method: str, rate: float, metric: str) -> str:
    """How ``metric`` of ``method`` compares with ``deepgum``'s on the same seeds:
    'higher'/'lower' when the mean paired difference exceeds two standard errors,
    else 'no clear difference' (with one seed: the sign, 'one seed')."""
    seeds = sorted(
        {r["seed"] for r in rows if r["method"] == method and r["rate"] == rate}
    )
    pairs = [
        (
            select(rows, metric, method=method, rate=rate, seed=s),
            select(rows, metric, method="deepgum", rate=rate, seed=s),
        )
        for s in seeds
    ]
    diff = np.array([a[0] - b[0] for a, b in pairs if a.size and b.size])
    diff = diff[~np.isnan(diff)]
    if diff.size == 0:
        return "n/a"
    sign = "higher" if diff.mean() > 0 else "lower"
    if diff.size == 1:
        return f"{sign} (one seed)"
    stderr = float(np.std(diff, ddof=1)) / math.sqrt(diff.size)
    worse = int(np.sum(diff > 0))
    if abs(diff.mean()) > 2 * stderr:
        return f"{sign} ({worse}/{diff.size} seeds higher)"
    return f"no clear difference ({worse}/{diff.size} seeds higher)"


def _ablation_pairs(method: str, settings: Settings) -> list[tuple]:
    """(rate, ablation cell, deepgum cell) for each of ``method``'s rates in this run."""
    return [
        (rate, {"method": method, "rate": rate}, {"method": "deepgum", "rate": rate})
        for rate in ROBUST_ABLATIONS[method][1]
        if rate in settings.rates
    ]


def ablation_lines(rows, settings: Settings, ablations, skipped) -> list[str]:
    """Table of the :data:`ROBUST_ABLATIONS` beside ``deepgum`` and one reading line
    per ablation."""
    if not ablations and not skipped:
        return []
    n_seeds = len(settings.robust_seeds)
    lines = [
        "Ablations of DeepGUM defaults (info, no target): each changes one "
        "parameter and is fitted on the same draws and seeds as deepgum; mean ± std "
        f"over {n_seeds} seed(s); RMSE ratio = mean(ablation) / mean(deepgum).",
        "",
    ]
    body = []
    for method in ablations:
        for rate, here, gum in _ablation_pairs(method, settings):
            ratio, _ = ratio_of_means(rows, "rmse", here, gum)
            body.append(
                (
                    method,
                    _changed(method),
                    f"{rate:g}",
                    fmt_pm(select(rows, "rmse", **here)),
                    fmt_pm(select(rows, "rmse", **gum)),
                    fmt(ratio, 3),
                    fmt_pm(select(rows, "auc", **here)),
                    fmt_pm(select(rows, "auc", **gum)),
                    fmt_pm(select(rows, "f1", **here)),
                    fmt_pm(select(rows, "inlier_prior", **here)),
                    fmt_epochs(rows, **here),
                )
            )
    if body:
        lines += md_table(
            (
                "ablation",
                "parameter",
                "rate",
                "clean-test RMSE",
                "deepgum RMSE",
                "RMSE ratio",
                "AUC",
                "deepgum AUC",
                "F1",
                "inlier prior",
                "epochs",
            ),
            body,
        )
        lines += ["", "Reading (paired over seeds against deepgum):", ""]
    for method in ablations:
        parts = []
        for rate, here, gum in _ablation_pairs(method, settings):
            ratio, _ = ratio_of_means(rows, "rmse", here, gum)
            auc_a = mean_std(select(rows, "auc", **here))[0]
            auc_d = mean_std(select(rows, "auc", **gum))[0]
            parts.append(
                f"@ {rate:g}: clean RMSE x{fmt(ratio, 3)}, "
                f"{_paired_reading(rows, method, rate, 'rmse')}; "
                f"AUC {fmt(auc_a)} vs {fmt(auc_d)}, "
                f"{_paired_reading(rows, method, rate, 'auc')}"
            )
        lines.append(f"- {method}, {_changed(method)}: " + "; ".join(parts) + ".")
    lines += [f"- {m}: not fitted in this run ({why})." for m, why in skipped.items()]
    return [*lines, ""]


def ablation_checks(rows, settings: Settings, ablations) -> list[dict]:
    """Info rows: RMSE of each ablation over deepgum's, AUC beside."""
    out = []
    for method in ablations:
        for rate, here, gum in _ablation_pairs(method, settings):
            value, detail = ratio_of_means(rows, "rmse", here, gum)
            auc_a = fmt_pm(select(rows, "auc", **here))
            auc_d = fmt_pm(select(rows, "auc", **gum))
            out.append(
                check(
                    "robustness",
                    f"RMSE {method} / deepgum @ {rate:g}",
                    value,
                    "(ablation, no target)",
                    "info",
                    f"{detail}; AUC {auc_a} vs deepgum {auc_d}",
                )
            )
    return out


def robustness_tables(rows, settings: Settings) -> list[str]:
    """RMSE table and detection table (mean ± std over seeds)."""
    n_seeds = len(settings.robust_seeds)
    rmse_rows, det_rows = [], []
    for rate in settings.rates:
        cells = [
            fmt_pm(select(rows, "rmse", method=m, rate=rate)) for m in ROBUST_METHODS
        ]
        epochs = " / ".join(
            fmt_epochs(rows, method=m, rate=rate) for m in ROBUST_METHODS
        )
        rmse_rows.append((f"{rate:g}", *cells, epochs))
        gum = {"method": "deepgum", "rate": rate}

        def pm(metric, where=gum):
            return fmt_pm(select(rows, metric, **where))

        det_rows.append(
            (
                f"{rate:g}",
                pm("auc"),
                pm("bayes_auc"),
                pm("auc", {"method": "l2_bayes_weights", "rate": rate}),
                pm("f1"),
                pm("bayes_f1"),
                pm("flagged_share"),
                pm("inlier_prior"),
                pm("true_inlier_share"),
                pm("inlier_prior", {"method": "deepgum_clean", "rate": rate}),
            )
        )
    lines = [
        "Training budgets: equal optimiser steps, not epochs. deepgum_clean and "
        "oracle train on the clean rows only; an epoch is ceil(max(n, "
        "min_rows_per_epoch) / batch_size) steps, and where the clean rows have fewer "
        "their max_epochs is multiplied by r = steps(n_all) / steps(n_clean) and "
        "rounded up, DeepGUM's warm_up_epochs and epochs_per_round "
        "by r and rounded (swa_start is a share of max_epochs and follows). The last "
        "column gives the epochs each ran.",
        "",
        f"Clean-test RMSE, mean ± std over {n_seeds} seed(s):",
        "",
    ]
    lines += md_table(
        ("rate", *ROBUST_METHODS, "epochs run (n_iter_, same order)"), rmse_rows
    )
    lines += ["", "DeepGUM outlier detection on the training set:", ""]
    lines += md_table(
        (
            "rate",
            "AUC",
            "AUC Bayes",
            "AUC of l2_bayes_weights' residuals",
            "F1",
            "F1 Bayes",
            "flagged share",
            "inlier prior (learnt)",
            "true inlier share",
            "prior of deepgum_clean (truth 1)",
        ),
        det_rows,
    )
    return lines


def robustness_checks(rows, settings: Settings) -> list[dict]:
    """The robustness targets, plus the ratios to the oracle (info)."""
    out, sec = [], "robustness"
    ratio_targets = {0.2: 1.10, 0.4: 1.10, 0.6: 1.25}
    for rate in settings.rates:
        gum = {"method": "deepgum", "rate": rate}
        if rate in ratio_targets:
            value, detail = ratio_of_means(
                rows, "rmse", gum, {"method": "deepgum_clean", "rate": rate}
            )
            limit = ratio_targets[rate]
            out.append(
                check(
                    sec,
                    f"RMSE deepgum / deepgum_clean @ {rate:g}",
                    value,
                    f"<= {limit}",
                    value <= limit,
                    detail,
                )
            )
        if rate == 0.0:
            value, detail = ratio_of_means(
                rows, "rmse", gum, {"method": "l2", "rate": rate}
            )
            out.append(
                check(
                    sec,
                    "RMSE deepgum / l2 @ 0",
                    value,
                    "<= 1.05",
                    value <= 1.05,
                    detail,
                )
            )
        if rate in (0.2, 0.4):
            for metric, limit in (("auc", 0.98), ("f1", 0.93)):
                value, _ = mean_std(select(rows, metric, **gum))
                bayes, _ = mean_std(select(rows, f"bayes_{metric}", **gum))
                out.append(
                    check(
                        sec,
                        f"{metric.upper()} deepgum @ {rate:g}",
                        value,
                        f">= {limit}",
                        value >= limit,
                        f"Bayes-optimal {fmt(bayes)}",
                    )
                )
    for ablation in ("deepgum_wd0", "deepgum_no_swa"):
        for rate in settings.rates:
            if rate in ratio_targets:
                value, detail = ratio_of_means(
                    rows,
                    "rmse",
                    {"method": ablation, "rate": rate},
                    {"method": "deepgum_clean", "rate": rate},
                )
                name = f"RMSE {ablation} / deepgum_clean @ {rate:g}"
                out.append(
                    check(sec, name, value, "(ablation, no target)", "info", detail)
                )
    for rate in settings.rates:
        for method in ("deepgum", "l2"):
            value, detail = ratio_of_means(
                rows,
                "rmse",
                {"method": method, "rate": rate},
                {"method": "oracle", "rate": rate},
            )
            name = f"RMSE {method} / oracle @ {rate:g}"
            out.append(check(sec, name, value, "(no target)", "info", detail))
    return out


def write_robustness_plot(rows, settings: Settings, path: Path) -> None:
    """Clean-test RMSE versus outlier rate per method, mean ± std error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for method in ROBUST_METHODS:
        stats_ = [
            mean_std(select(rows, "rmse", method=method, rate=r))
            for r in settings.rates
        ]
        means = [m for m, _ in stats_]
        stds = [0.0 if math.isnan(s) else s for _, s in stats_]
        ax.errorbar(
            settings.rates, means, yerr=stds, marker="o", capsize=3, label=method
        )
    ax.set_yscale("log")
    ax.set_xlabel("outlier rate (uniform U(-6, 6) rows)")
    ax.set_ylabel("clean-test RMSE")
    mode = "quick" if settings.quick else "full"
    ax.set_title(
        f"robustness, n={settings.n_robust}, {len(settings.robust_seeds)} seed(s), "
        f"{mode}"
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------------
# Section: groups


def groups_cell(method, data, test, seed, settings) -> dict:
    """Fit one groups method on one draw; score DeepGUM's detection per entry.

    ``l2`` is plain L2 on the corrupted targets, ``oracle`` plain L2 on the targets
    before contamination (references, no target of their own).
    """
    estimator = make_estimator(method, seed, settings)
    y = data.y_uncorrupted if method == "oracle" else data.y
    result = fit_and_score(estimator, data.X, y, test)
    if not method.startswith("deepgum"):
        return result
    n_targets = data.mask.shape[1]
    if method == "deepgum_each":
        entry_scores = estimator.group_outlier_scores_
        entry_flags = estimator.group_outliers_
        true_share = 1.0 - float(np.mean(data.mask))
    else:
        entry_scores = np.repeat(estimator.outlier_scores_[:, None], n_targets, axis=1)
        entry_flags = np.repeat(estimator.outliers_[:, None], n_targets, axis=1)
        true_share = 1.0 - float(np.mean(data.mask.any(axis=1)))
    row_mask = data.mask.any(axis=1)
    row_proba = 1.0 - np.prod(1.0 - data.proba, axis=1)
    result.update(
        {
            "entry_auc": auc_or_nan(data.mask, entry_scores),
            "entry_f1": f1_or_nan(data.mask, entry_flags),
            "row_auc": auc_or_nan(row_mask, estimator.outlier_scores_),
            "inlier_prior": inlier_prior(estimator),
            "true_inlier_share": true_share,
            **bayes_metrics(data.mask, data.proba, "bayes_entry"),
            "bayes_row_auc": auc_or_nan(row_mask, row_proba),
        }
    )
    return result


def run_groups(settings: Settings, cache: CellCache) -> SectionResult:
    """Per-row versus per-column latents on independently corrupted columns."""
    out = SectionResult()
    out.lines += ["## groups", ""]
    table = []
    for n_targets in settings.group_targets:
        task = f"K{n_targets}_each20"
        test = clean_test_set(GROUP_FEATURES, n_targets)
        for seed in settings.seeds:
            data = groups_data(n_targets, seed, settings.n_groups)
            if seed == settings.seeds[0]:
                out.lines += [f"- {task}: `{data.law}`"]
            for method in GROUP_METHODS:
                out.rows.append(
                    run_cell(
                        cache,
                        "groups",
                        task,
                        method,
                        GROUP_RATE,
                        seed,
                        lambda m=method, d=data, s=seed, t=test: groups_cell(
                            m, d, t, s, settings
                        ),
                    )
                )
        for method in GROUP_METHODS:
            where = {"task": task, "method": method}

            def pm(metric, where=where):
                return fmt_pm(select(out.rows, metric, **where))

            table.append(
                (
                    task,
                    method,
                    pm("rmse"),
                    pm("entry_auc"),
                    pm("bayes_entry_auc"),
                    pm("entry_f1"),
                    pm("bayes_entry_f1"),
                    pm("row_auc"),
                    pm("bayes_row_auc"),
                    pm("inlier_prior"),
                    pm("true_inlier_share"),
                    fmt_epochs(out.rows, **where),
                )
            )
        row_rmse = select(out.rows, "rmse", task=task, method="deepgum_row")
        each_rmse = select(out.rows, "rmse", task=task, method="deepgum_each")
        value = float(np.mean(each_rmse) / np.mean(row_rmse))
        out.checks.append(
            check(
                "groups",
                f"{task}: mean RMSE per-column / per-row",
                value,
                "< 1 (per-column beats per-row)",
                value < 1.0,
                f"per-column {fmt_pm(each_rmse)} vs per-row {fmt_pm(row_rmse)}",
            )
        )
        for method in ("deepgum_row", "deepgum_each", "l2"):
            ratio, detail = ratio_of_means(
                out.rows,
                "rmse",
                {"task": task, "method": method},
                {"task": task, "method": "oracle"},
            )
            name = f"{task}: RMSE {method} / oracle"
            out.checks.append(
                check("groups", name, ratio, "(no target)", "info", detail)
            )
    out.lines += [
        f"- clean tests: same laws with outlier_rate=0, noise=0, "
        f"{TEST_ROWS} rows, random_state={TEST_SEED}",
        "",
        f"Mean ± std over {len(settings.seeds)} seed(s). References (no target): "
        "l2 = RobustNetRegressor(loss='l2') on the corrupted targets, oracle = the "
        "same on the targets before contamination. Per-entry metrics against "
        "the (n, K) mask (per-row model: its row score broadcast to every column); "
        "row AUC against 'any entry wrong'; inlier prior: mean of "
        "mixture_.weights_[..., 0] vs the true share of clean rows (per-row) or "
        "entries (per-column).",
        "",
    ]
    out.lines += md_table(
        (
            "task",
            "method",
            "clean-test RMSE",
            "entry AUC",
            "entry AUC Bayes",
            "entry F1",
            "entry F1 Bayes",
            "row AUC",
            "row AUC Bayes",
            "inlier prior",
            "true share",
            "epochs",
        ),
        table,
    )
    out.lines += ["", *checks_table(out.checks, settings.quick), ""]
    return out


# ---------------------------------------------------------------------------
# Section: timing


def time_one_fit(method: str, data: Bunch, settings: Settings) -> tuple[float, int]:
    """Seconds of one fit (random_state=0) and the epochs it ran."""
    estimator = make_estimator(method, 0, settings)
    start = time.perf_counter()
    estimator.fit(data.X, data.y)
    return time.perf_counter() - start, int(estimator.n_iter_)


def run_timing(settings: Settings) -> SectionResult:
    """Interleaved fit timings of DeepGUM and L2 at equal (default) epochs."""
    out = SectionResult()
    data = robustness_data(0.2, 0, settings.n_robust)
    methods = ("deepgum", "l2")
    load_before = os.getloadavg()
    for method in methods:  # untimed warm-up
        time_one_fit(method, data, settings)
    seconds = {m: [] for m in methods}
    epochs = {m: [] for m in methods}
    for run in range(settings.timing_runs):
        for method in methods:
            s, n_iter = time_one_fit(method, data, settings)
            seconds[method].append(s)
            epochs[method].append(n_iter)
            out.rows.append(
                {
                    "section": "timing",
                    "task": "uniform_p5_K1",
                    "method": method,
                    "rate": 0.2,
                    "seed": 0,
                    "run": run,
                    "fit_seconds": s,
                    "n_iter": n_iter,
                    "cached": False,
                }
            )
            print(f"  timing {method:<8} run {run}: {s:.2f}s, n_iter_={n_iter}")
    load_after = os.getloadavg()
    table = []
    for method in methods:
        q25, q50, q75 = np.percentile(seconds[method], [25, 50, 75])
        table.append(
            (
                method,
                f"{q50:.3f}",
                f"{min(seconds[method]):.3f}",
                f"{q75 - q25:.3f}",
                "/".join(str(e) for e in sorted(set(epochs[method]))),
                len(seconds[method]),
            )
        )
    all_epochs = set(epochs["deepgum"]) | set(epochs["l2"])
    ratio = float(np.median(seconds["deepgum"]) / np.median(seconds["l2"]))
    out.checks = [
        check(
            "timing",
            "n_iter_ equal for every fit of both",
            "/".join(str(e) for e in sorted(all_epochs)),
            "one value",
            len(all_epochs) == 1,
        ),
        check(
            "timing",
            "median fit seconds deepgum / l2",
            ratio,
            "<= 1.15",
            ratio <= 1.15 and len(all_epochs) == 1,
            f"medians {np.median(seconds['deepgum']):.3f} s / "
            f"{np.median(seconds['l2']):.3f} s; FAIL too if the epochs differ",
        ),
    ]
    out.lines += [
        "## timing",
        "",
        f"Law: `{data.law}` (seed 0, random_state=0). One untimed warm-up fit of "
        f"each, then {settings.timing_runs} interleaved fits of each. Load average "
        f"(1, 5, 15 min) before: {', '.join(f'{v:.2f}' for v in load_before)}; "
        f"after: {', '.join(f'{v:.2f}' for v in load_after)}.",
        "",
    ]
    out.lines += md_table(
        ("method", "median s", "min s", "IQR s", "epochs (n_iter_)", "fits"), table
    )
    out.lines += ["", *checks_table(out.checks, settings.quick), ""]
    return out


# ---------------------------------------------------------------------------
# Section: do no harm


def dnh_cell(method, data, test, seed, settings) -> dict:
    """Fit DeepGUM or L2 on one do-no-harm draw and score it."""
    estimator = make_estimator(method, seed, settings)
    result = fit_and_score(estimator, data.X, data.y, test)
    if method == "deepgum":
        result.update(row_detection(estimator, data.mask))
        result.update(bayes_metrics(data.mask, data.proba))
    return result


def dnh_tasks(settings: Settings) -> dict:
    """Task name → (data maker(rate, seed), clean test set)."""
    return {
        "heavy_tail": (
            lambda rate, seed: heavy_tail_data(rate, seed, settings.n_heavy_tail),
            clean_test_set(ROBUST_LAW["n_features"], ROBUST_LAW["n_targets"]),
        ),
        "many_outputs": (
            lambda rate, seed: many_outputs_data(rate, seed, settings.n_many_outputs),
            clean_test_set(MANY_OUTPUTS["n_features"], MANY_OUTPUTS["n_targets"]),
        ),
    }


def run_do_no_harm(settings: Settings, cache: CellCache) -> SectionResult:
    """DeepGUM must not be worse than L2 where the net fits inliers poorly."""
    out = SectionResult()
    out.lines += ["## do_no_harm", "", "Laws (seed 0):", ""]
    table = []
    for task, (make_data, test) in dnh_tasks(settings).items():
        for rate in DNH_RATES:
            for seed in settings.seeds:
                data = make_data(rate, seed)
                if seed == settings.seeds[0]:
                    out.lines.append(f"- {task} @ {rate:g}: `{data.law}`")
                for method in DNH_METHODS:
                    out.rows.append(
                        run_cell(
                            cache,
                            "do_no_harm",
                            task,
                            method,
                            rate,
                            seed,
                            lambda m=method, d=data, s=seed, t=test: dnh_cell(
                                m, d, t, s, settings
                            ),
                        )
                    )
            row, chk = dnh_summary(out.rows, task, rate)
            table.append(row)
            out.checks.append(chk)
    out.lines += [
        f"- clean tests: same laws with outlier_rate=0, noise=0, {TEST_ROWS} rows, "
        f"random_state={TEST_SEED}",
        "",
        f"Clean-test RMSE, mean ± std over {len(settings.seeds)} seed(s); "
        "requirement mean(deepgum) <= mean(l2) + pooled std "
        "(pooled = sqrt((std_gum² + std_l2²) / 2); 0 with one seed).",
        "",
    ]
    head = "verdict (informational: --quick)" if settings.quick else "verdict"
    out.lines += md_table(
        (
            "task",
            "rate",
            "deepgum",
            "l2",
            "deepgum, precision_shrinkage=0 (ablation)",
            "gum − l2",
            "pooled std",
            head,
            "inlier prior (learnt)",
            "true inlier share",
            "AUC",
            "AUC Bayes",
            "epochs gum / l2",
        ),
        table,
    )
    out.lines.append("")
    return out


def dnh_summary(rows, task: str, rate: float) -> tuple[tuple, dict]:
    """Table row and check of one do-no-harm (task, rate)."""
    gum_where = {"task": task, "rate": rate, "method": "deepgum"}
    l2_where = {"task": task, "rate": rate, "method": "l2"}
    gum, l2 = select(rows, "rmse", **gum_where), select(rows, "rmse", **l2_where)
    (m_gum, s_gum), (m_l2, s_l2) = mean_std(gum), mean_std(l2)
    pooled = math.sqrt((s_gum**2 + s_l2**2) / 2) if len(gum) > 1 else 0.0
    ok = m_gum <= m_l2 + pooled
    chk = check(
        "do_no_harm",
        f"{task} @ {rate:g}: mean RMSE deepgum <= l2 + pooled std",
        m_gum,
        f"<= {fmt(m_l2 + pooled)}",
        ok,
        f"l2 {fmt(m_l2)}, pooled std {fmt(pooled, 2)}",
    )

    def pm(metric):
        return fmt_pm(select(rows, metric, **gum_where))

    epochs = f"{fmt_epochs(rows, **gum_where)} / {fmt_epochs(rows, **l2_where)}"
    row = (
        task,
        f"{rate:g}",
        fmt_pm(gum),
        fmt_pm(l2),
        fmt_pm(select(rows, "rmse", task=task, rate=rate, method=DNH_ABLATION)),
        f"{m_gum - m_l2:+.3g}",
        fmt(pooled, 2),
        chk["verdict"],
        pm("inlier_prior"),
        pm("true_inlier_share"),
        pm("auc"),
        pm("bayes_auc"),
        epochs,
    )
    return row, chk


# ---------------------------------------------------------------------------
# Environment and outputs


def environment(settings: Settings) -> dict:
    """Machine, thread pools, versions and date the numbers depend on."""
    affinity = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    )
    try:
        import matplotlib

        mpl_version = matplotlib.__version__
    except ImportError:  # pragma: no cover
        mpl_version = "not installed"
    return {
        "date (UTC)": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "os.cpu_count()": os.cpu_count(),
        "usable CPUs (affinity)": affinity,
        "load average (1, 5, 15 min)": ", ".join(f"{v:.2f}" for v in os.getloadavg()),
        "torch.get_num_threads()": torch.get_num_threads(),
        "torch.get_num_interop_threads()": torch.get_num_interop_threads(),
        **{
            v: os.environ.get(v, "unset")
            for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
        },
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "torch": torch.__version__,
        "skorch": skorch.__version__,
        "matplotlib": mpl_version,
        "sk_deepgum": f"{sk_deepgum.__version__} ({PACKAGE_DIR})",
        "mode": "quick" if settings.quick else "full",
    }


def estimator_defaults() -> list[str]:
    """Markdown lines with the current defaults of both estimators."""

    def show(estimator):
        params = estimator.get_params()
        return ", ".join(
            f"{k}={getattr(v, '__name__', v)!s}" for k, v in sorted(params.items())
        )

    return [
        f"- DeepGUMRegressor defaults: {show(DeepGUMRegressor())}",
        f"- RobustNetRegressor defaults: {show(RobustNetRegressor())}",
    ]


def write_csv(rows: list[dict], path: Path) -> None:
    """Every raw row; columns are the union of keys in first-seen order."""
    columns: dict = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)


def header_lines(command, env, settings, fingerprint, cache) -> list[str]:
    """Top of the markdown report: command, mode, environment, defaults, cache."""
    if settings.quick:
        mode = (
            f"**--quick** smoke run: max_epochs={settings.max_epochs} passed equally "
            "to every estimator (reduced from the defaults); PASS/FAIL informational."
        )
    else:
        mode = (
            "Full run: every estimator at its defaults (only random_state/groups set)."
        )
    lines = ["# bench_regressor results", "", f"Command: `{command}`", "", mode, ""]
    lines += [
        f"Seeds: {list(settings.seeds)} (robustness: {list(settings.robust_seeds)}).",
        "",
        "Environment:",
        "",
    ]
    lines += [f"- {k}: {v}" for k, v in env.items()]
    lines += ["", "Estimator defaults measured:", "", *estimator_defaults(), ""]
    lines += [
        f"Cache: fingerprint `{fingerprint}`; {cache.hits} cell(s) reused, "
        f"{cache.misses} computed, {cache.n_stale} stale record(s) ignored.",
        "",
    ]
    return lines


def summary_lines(checks: list[dict], quick: bool, rows: list[dict]) -> list[str]:
    """All checks of the run in one table, then every cell whose fit raised."""
    lines = ["## summary of checks", ""]
    lines += checks_table([c for c in checks if c["verdict"] != "info"], quick)
    counts = {v: sum(c["verdict"] == v for c in checks) for v in ("PASS", "FAIL")}
    lines += ["", f"{counts['PASS']} PASS, {counts['FAIL']} FAIL.", ""]
    failed = [r for r in rows if "error" in r]
    lines += [f"Cells whose fit raised (left out of the means): {len(failed)}.", ""]
    lines += [
        f"- {r['section']}/{r['task']} {r['method']} rate={r['rate']:g} "
        f"seed={r['seed']}: {r['error']}"
        for r in failed
    ]
    return lines


def parse_args(argv=None):
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="CI smoke run (< 2 min)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (3)")
    parser.add_argument("--out", type=Path, default=None, help="output folder")
    parser.add_argument("--only", choices=SECTIONS, default=None, help="one section")
    parser.add_argument(
        "--resume",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="reuse finished cells from cells.jsonl (default: on)",
    )
    args = parser.parse_args(argv)
    args.seeds_given = args.seeds is not None
    if args.seeds is None:
        args.seeds = 3
    if args.seeds < 1:
        parser.error("--seeds must be >= 1")
    if args.out is None:
        args.out = DEFAULT_OUT / "quick" if args.quick else DEFAULT_OUT
    return args


def main(argv=None) -> int:
    """Run the chosen sections, print and write the report."""
    start = time.perf_counter()
    args = parse_args(argv)
    settings = make_settings(args)
    command = "python " + shlex.join(sys.argv if argv is None else ["bench", *argv])
    args.out.mkdir(parents=True, exist_ok=True)
    fingerprint = source_fingerprint(settings)
    cache = CellCache(args.out / "cells.jsonl", fingerprint, args.resume)
    env = environment(settings)
    print(f"Command: {command}")
    for k, v in env.items():
        print(f"{k}: {v}")
    if settings.quick:
        print(f"--quick: max_epochs={settings.max_epochs} for every estimator")
    sections = (args.only,) if args.only else SECTIONS
    runners = {
        "robustness": lambda: run_robustness(settings, cache),
        "groups": lambda: run_groups(settings, cache),
        "timing": lambda: run_timing(settings),
        "do_no_harm": lambda: run_do_no_harm(settings, cache),
    }
    results, body = {}, []
    for name in sections:
        t0 = time.perf_counter()
        print(f"== {name}", flush=True)
        results[name] = runners[name]()
        elapsed = time.perf_counter() - t0
        body += [*results[name].lines, f"Section wall time: {elapsed:.1f} s", ""]
        print("\n".join(results[name].lines), flush=True)
        print(f"Section wall time: {elapsed:.1f} s", flush=True)
    checks = [c for r in results.values() for c in r.checks]
    rows = [row for r in results.values() for row in r.rows]
    total = time.perf_counter() - start
    report = header_lines(command, env, settings, fingerprint, cache) + body
    report += summary_lines(checks, settings.quick, rows)
    report.append(f"Total wall time: {total:.1f} s")
    suffix = f"_{args.only}" if args.only else ""
    files = [args.out / f"results{suffix}.md", args.out / f"results{suffix}.csv"]
    files[0].write_text("\n".join(report) + "\n")
    write_csv(rows, files[1])
    if "robustness" in results:
        files.append(args.out / f"robustness_rmse{suffix}.png")
        write_robustness_plot(results["robustness"].rows, settings, files[-1])
    print("\n".join(summary_lines(checks, settings.quick, rows)))
    print(f"Cache: {cache.hits} reused, {cache.misses} computed, {cache.n_stale} stale")
    print("Wrote " + ", ".join(str(f) for f in files))
    print(f"Total wall time: {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
