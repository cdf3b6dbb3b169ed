"""Defaults across data regimes: DeepGUMRegressor from 20 to 100,000 rows.

Every estimator runs with its **defaults**: only ``random_state`` and, on the
linear law, the linear backbone (``module__hidden_layer_sizes=()``: the package's
MLP with no hidden layer, one ``Linear`` layer) are passed, so the numbers describe
whatever the defaults are when the script runs (they are printed in the report).
``--quick`` may also pass one reduced ``max_epochs`` (and the same ``max_iter`` to
scikit-learn's MLPRegressor) and then says so; see :data:`QUICK_MAX_EPOCHS`. Every
estimator gets the raw ``X`` and ``y`` (no scaler, no pipeline: both laws have
inputs on unit scale; the package's estimators scale the targets themselves,
MLPRegressor does not).

Sections
--------
``regimes``
    Sizes n in {20, 50, 200, 1e3, 1e4, 1e5} (``--max-n`` caps them), outlier
    rates {0, 0.2, 0.4}, seeds ``0..S-1`` (S = 3, ``--seeds``), two laws:

    ``tabular``
        ``make_contaminated_regression(n_samples=n, n_features=5, n_targets=1,
        outlier_kind="uniform", noise=0.1, outlier_rate=rate, random_state=seed)``:
        ``X ~ U(-1, 1)^5``, ``y = f(X) + N(0, 0.1^2)`` with ``f`` the package's
        fixed standardised smooth function, and exactly ``round(rate * n)`` rows
        replaced by ``U(-6, 6)``. Backbone: the estimators' default MLP.
    ``linear``
        Defined here (:func:`linear_law`), drawn with
        ``rng = numpy.random.default_rng(seed)`` in this order:
        ``X = rng.standard_normal((n, 5))``;
        ``y = X @ beta + 1 + 0.5 * rng.standard_normal(n)`` with
        ``beta = (1, -0.5, 0.25, 2, -1.5)`` (:data:`LINEAR_BETA`); the outlier rows
        ``rng.choice(n, round(rate * n), replace=False)`` (exactly that many,
        Python's ``round``); their targets replaced by
        ``rng.uniform(1 - 5 s, 1 + 5 s)`` with ``s = sqrt(|beta|^2 + 0.5^2) =
        2.795`` the exact standard deviation of the clean targets (whose median
        is 1): the box ``[-12.98, 14.98]``. Backbone: linear
        (``module__hidden_layer_sizes=()``) for the package's estimators.

    Clean test set per law: 2,000 rows, no contamination, no noise (targets are
    the clean function ``f(X)``, resp. ``X @ beta + 1``), drawn once with
    ``random_state`` :data:`TEST_SEED`.

    Methods per cell, all at their defaults except ``random_state=seed`` and the
    backbone: ``deepgum`` (``DeepGUMRegressor``), ``mlp``
    (``sklearn.neural_network.MLPRegressor``, its own default (100,) ReLU network,
    on both laws), ``tukey`` (``RobustNetRegressor(loss='tukey')``), ``oracle``
    (``RobustNetRegressor(loss='l2')`` fitted on the truly clean rows only, at
    its defaults: below 1,000 rows ``min_rows_per_epoch`` gives its epochs as
    many optimiser steps as the all-rows fits', above it has fewer) and, on the
    linear law only, ``ols`` (``sklearn.linear_model.LinearRegression()``: the
    reference a user would fit). In every cell the fits run in that order, one
    after the other in one process, so ``deepgum`` and ``mlp`` are timed back to
    back (if only one of the two is in the cache, both are refitted, so a
    speed ratio never pairs fits from different runs). Before the first fit of
    a run, one untimed fit of each method on 50 rows with 2 epochs
    (:func:`warm_up`) pays torch's and scikit-learn's first-call costs.

    Recorded per cell: clean-test RMSE, fit seconds (``time.perf_counter`` around
    ``fit``), epochs / iterations run; for ``deepgum`` also the rows flagged
    (``outliers_.sum()``), their indices (in ``cells.jsonl``), the false positives
    (flagged clean rows), the true outliers found and the ROC-AUC of
    ``outlier_scores_`` against the true mask when both classes exist.

``small_clean``
    Clean linear tables (the linear law at rate 0) of n in {10, 20, 30, 50} rows,
    data seeds 0..4 (one table per (n, data seed)); on each table DeepGUM with the
    linear backbone is fitted with ``random_state`` in 0..4. Reported: rows flagged
    per fit and whether the flagged set is identical across the random states.

Targets (PASS/FAIL on means over seeds, the numbers beside them)
---------------------------------------------------------------
- Accuracy, per law, at every n >= 50: mean RMSE(deepgum) <= 1.25 x mean
  RMSE(oracle) at 20 % and 40 %; at 0 %, mean RMSE(deepgum) <= 1.05 x mean
  RMSE(mlp).
- Speed, per law and rate, at n >= 1e4: mean fit seconds of deepgum <= those of
  mlp (fits of a cell run back to back, see above).
- Do no harm on small clean data: in ``small_clean``, at most one row flagged in
  every fit.
- Same answer across seeds on tiny data: in ``small_clean``, the flagged set is
  identical across the random states on every table.

``--quick`` (CI smoke run, under 30 s on one core; targets shown as info): n in
{20, 200}, rates {0, 0.4}, seed 0, both laws; ``small_clean`` with n in {10, 20},
data seed 0 and random states {0, 1}; every network (and MLPRegressor) at
``max_epochs=20`` (:data:`QUICK_MAX_EPOCHS`): since ``min_rows_per_epoch`` gives
every training set under 1,000 rows 1,000 rows' worth of steps per epoch, the
default 100 epochs made the quick run 77 s.

Outputs and caching
-------------------
Written to ``--out`` (default ``benchmarks/results/regimes/``;
``.../regimes/quick/`` with ``--quick``): ``results.md`` (command, environment,
estimator defaults, law strings, tables, checks), ``results.csv`` (one row per
cell; lists of flagged rows longer than :data:`CSV_MAX_ROWS` are left to
``cells.jsonl``) and ``regimes.png`` (deepgum's and tukey's RMSE ratio to the
oracle and fit-time ratio to mlp against n, log x axis, per law and rate). Every
finished cell is appended to ``cells.jsonl``, keyed by (section, task, method,
rate, seed) with the task naming the law and n; a rerun reuses cells whose
fingerprint (the imported ``sk_deepgum`` sources, :data:`CACHE_VERSION`, the laws'
constants, the mode, ``max_epochs`` and the torch thread count) matches
(``--no-resume`` recomputes everything). The cache, the fingerprint, the
environment block and the table helpers are imported from ``bench_regressor.py``.
The committed ``benchmarks/results_regimes.md`` and ``benchmarks/figures/regimes.png``
are copies of the full run's ``results.md`` and ``regimes.png`` (``--max-n 100000``,
the default; its cells up to 1e4 came from a ``--max-n 10000`` run of the same
sources, reused through the cache, as its report's "Cache" line says).

How to run
----------
::

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python benchmarks/bench_regimes.py --quick
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python benchmarks/bench_regimes.py \\
        [--full] [--max-n 100000] [--seeds 3] [--threads 1] [--out DIR] [--no-resume]

Cost (one thread, on a shared 2-core machine with other jobs running, 2026-12):
with ``batch_size='auto'`` every net fit is about 3,200 optimiser steps, so its
time grows slowly up to 1e4 rows and about linearly beyond. ``--max-n 10000``
took 19 minutes (sizes up to 1e3 about 14 of them, every training set under 1,000
rows costing about as much as 1,000); the n = 1e5 cells another 19 minutes (a
DeepGUM fit 5-25 s there); ``--quick`` about 20 s.
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import sys
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from bench_regressor import (
    CellCache,
    auc_or_nan,
    environment,
    estimator_defaults,
    fmt,
    fmt_pm,
    md_table,
    mean_std,
    rmse,
    run_cell,
    select,
    source_fingerprint,
    write_csv,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression
from sklearn.neural_network import MLPRegressor
from sklearn.utils import Bunch

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.baselines import RobustNetRegressor
from sk_deepgum.datasets import make_contaminated_regression

#: Bump when what a cached cell contains changes.
CACHE_VERSION = 1
SECTION, SMALL = "regimes", "small_clean"
LAWS = ("linear", "tabular")
SIZES = (20, 50, 200, 1_000, 10_000, 100_000)
RATES = (0.0, 0.2, 0.4)
QUICK_SIZES, QUICK_RATES = (20, 200), (0.0, 0.4)
SMALL_SIZES, QUICK_SMALL_SIZES = (10, 20, 30, 50), (10, 20)
SMALL_TABLES, SMALL_STATES = 5, 5
QUICK_SMALL_STATES = 2
#: ``--quick``'s ``max_epochs`` (None: the defaults). Passed to every network (and
#: as ``max_iter`` to MLPRegressor): at the defaults the quick run took 77 s.
QUICK_MAX_EPOCHS: int | None = 20
TEST_SEED, TEST_ROWS = 1_000_003, 2000
TABULAR_LAW = {"n_features": 5, "n_targets": 1, "outlier_kind": "uniform", "noise": 0.1}
LINEAR_BETA = (1.0, -0.5, 0.25, 2.0, -1.5)
LINEAR_INTERCEPT, LINEAR_NOISE, LINEAR_BOX_SPREADS = 1.0, 0.5, 5.0
METHODS = {"linear": ("deepgum", "mlp", "tukey", "oracle", "ols")}
METHODS["tabular"] = METHODS["linear"][:-1]
#: Targets: ratio to the oracle at 20/40 %, to mlp at 0 %, from this n on.
ORACLE_RATIO, MLP_RATIO, ACCURACY_MIN_N = 1.25, 1.05, 50
SPEED_MIN_N, MAX_FLAGGED_SMALL = 10_000, 1
CSV_MAX_ROWS = 50
RUN_ID = uuid.uuid4().hex[:8]
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "regimes"


@dataclass(frozen=True)
class Settings:
    """Sizes of one run mode (duck-types what ``bench_regressor``'s helpers read:
    ``quick`` and :meth:`cache_identity`)."""

    quick: bool
    sizes: tuple[int, ...]
    rates: tuple[float, ...]
    seeds: tuple[int, ...]
    small_sizes: tuple[int, ...]
    small_tables: tuple[int, ...]
    small_states: tuple[int, ...]
    max_epochs: int | None  # None: the estimators' defaults
    threads: int

    def cache_identity(self) -> dict:
        """What a cached cell depends on besides the package sources."""
        return {
            "bench": "regimes",
            "regimes_cache_version": CACHE_VERSION,
            "quick": self.quick,
            "max_epochs": self.max_epochs,
            "threads": self.threads,
            "linear": [LINEAR_BETA, LINEAR_INTERCEPT, LINEAR_NOISE, LINEAR_BOX_SPREADS],
            "tabular": TABULAR_LAW,
            "test": [TEST_SEED, TEST_ROWS],
        }


def make_settings(args) -> Settings:
    """Turn the parsed command line into :class:`Settings`."""
    if args.quick:
        return Settings(
            quick=True,
            sizes=tuple(n for n in QUICK_SIZES if n <= args.max_n),
            rates=QUICK_RATES,
            seeds=tuple(range(args.seeds or 1)),
            small_sizes=QUICK_SMALL_SIZES,
            small_tables=(0,),
            small_states=tuple(range(QUICK_SMALL_STATES)),
            max_epochs=QUICK_MAX_EPOCHS,
            threads=args.threads,
        )
    return Settings(
        quick=False,
        sizes=tuple(n for n in SIZES if n <= args.max_n),
        rates=RATES,
        seeds=tuple(range(args.seeds or 3)),
        small_sizes=SMALL_SIZES,
        small_tables=tuple(range(SMALL_TABLES)),
        small_states=tuple(range(SMALL_STATES)),
        max_epochs=None,
        threads=args.threads,
    )


# ---------------------------------------------------------------------------
# Laws


def linear_spread() -> float:
    """Exact standard deviation of the linear law's clean targets,
    ``sqrt(|beta|^2 + noise^2)`` (``X ~ N(0, I)``)."""
    beta = np.asarray(LINEAR_BETA)
    return float(np.sqrt(beta @ beta + LINEAR_NOISE**2))


def linear_box() -> tuple[float, float]:
    """The outliers' uniform box: median ± 5 spreads of the clean targets."""
    half = LINEAR_BOX_SPREADS * linear_spread()
    return LINEAR_INTERCEPT - half, LINEAR_INTERCEPT + half


def linear_law(n: int, rate: float, seed: int, noise: float = LINEAR_NOISE) -> Bunch:
    """Draw the linear law (see the module docstring for the exact order of draws).

    Parameters
    ----------
    n : int
        Rows.
    rate : float in [0, 1)
        Outlier share; exactly ``round(rate * n)`` rows are replaced.
    seed : int
        ``numpy.random.default_rng(seed)`` drives every draw.
    noise : float
        Inlier noise standard deviation (0 for the clean test set).

    Returns
    -------
    Bunch
        ``X``, ``y``, ``y_noiseless`` (``X @ beta + 1``), ``outlier_mask``, ``law``.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, len(LINEAR_BETA)))
    y_noiseless = X @ np.asarray(LINEAR_BETA) + LINEAR_INTERCEPT
    y = y_noiseless + noise * rng.standard_normal(n)
    mask = np.zeros(n, dtype=bool)
    m = round(rate * n)
    if m:
        rows = rng.choice(n, m, replace=False)
        mask[rows] = True
        y[rows] = rng.uniform(*linear_box(), size=m)
    low, high = linear_box()
    law = (
        f"X ~ N(0, 1)^{len(LINEAR_BETA)}; y = X @ {LINEAR_BETA} + {LINEAR_INTERCEPT:g}"
        f" + N(0, {noise:g}^2); {m} of {n} rows (round({rate:g} n)) replaced by "
        f"U({low:.2f}, {high:.2f}); default_rng({seed})"
    )
    return Bunch(X=X, y=y, y_noiseless=y_noiseless, outlier_mask=mask, law=law)


def draw(law: str, n: int, rate: float, seed: int) -> Bunch:
    """A training draw of ``law``."""
    if law == "linear":
        return linear_law(n, rate, seed)
    return make_contaminated_regression(
        n_samples=n,
        outlier_rate=rate,
        random_state=seed,
        return_details=True,
        **TABULAR_LAW,
    )


def clean_test_set(law: str) -> Bunch:
    """2,000 clean, noiseless rows of ``law`` drawn with :data:`TEST_SEED`."""
    if law == "linear":
        return linear_law(TEST_ROWS, 0.0, TEST_SEED, noise=0.0)
    return make_contaminated_regression(
        n_samples=TEST_ROWS,
        n_features=TABULAR_LAW["n_features"],
        n_targets=TABULAR_LAW["n_targets"],
        outlier_rate=0.0,
        noise=0.0,
        random_state=TEST_SEED,
        return_details=True,
    )


# ---------------------------------------------------------------------------
# Estimators and cells


def make_estimator(method: str, law: str, seed: int, settings: Settings):
    """Unfitted estimator at its defaults (``random_state``, the linear backbone on
    the linear law, and ``--quick``'s reduced epochs when set)."""
    net = {"random_state": seed}
    if law == "linear":
        net["module__hidden_layer_sizes"] = ()
    if settings.max_epochs is not None:
        net["max_epochs"] = settings.max_epochs
    if method == "deepgum":
        return DeepGUMRegressor(**net)
    if method == "tukey":
        return RobustNetRegressor(loss="tukey", **net)
    if method == "oracle":
        return RobustNetRegressor(loss="l2", **net)
    if method == "mlp":
        extra = {} if settings.max_epochs is None else {"max_iter": settings.max_epochs}
        return MLPRegressor(random_state=seed, **extra)
    if method == "ols":
        return LinearRegression()
    raise ValueError(f"unknown method {method!r}")


def fit_timed(estimator, X, y) -> float:
    """Seconds of ``estimator.fit(X, y)`` (MLPRegressor's ConvergenceWarning is
    silenced: its iterations are recorded instead)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        estimator.fit(X, y)
        return time.perf_counter() - start


def detection(model, mask: np.ndarray) -> dict:
    """Rows flagged by a fitted DeepGUMRegressor, against the true mask."""
    flags = np.asarray(model.outliers_, dtype=bool).ravel()
    rows = np.flatnonzero(flags)
    return {
        "n_flagged": int(flags.sum()),
        "flagged_rows": [int(i) for i in rows],
        "false_positives": int((flags & ~mask).sum()),
        "true_positives": int((flags & mask).sum()),
        "n_outliers": int(mask.sum()),
        "auc": auc_or_nan(mask, model.outlier_scores_),
    }


_WARMED: list[float] = []  # seconds of the warm-up, once it has run


def fit_cell(method: str, law: str, data: Bunch, test: Bunch, seed, settings) -> dict:
    """Fit one method on one draw; clean-test RMSE, seconds, iterations. The first
    call of a run does the untimed :func:`warm_up` first."""
    if not _WARMED:
        _WARMED.append(warm_up(settings))
        print(f"  (untimed warm-up fits: {_WARMED[0]:.1f} s)", flush=True)
    model = make_estimator(method, law, seed, settings)
    X, y = data.X, data.y
    if method == "oracle":
        X, y = X[~data.outlier_mask], y[~data.outlier_mask]
    seconds = fit_timed(model, X, y)
    out = {
        "rmse": rmse(np.ravel(model.predict(test.X)), np.ravel(test.y_noiseless)),
        "fit_seconds": seconds,
        "n_train": len(X),
        "run_id": RUN_ID,
        "load1": os.getloadavg()[0],
    }
    if hasattr(model, "n_iter_"):
        out["n_iter"] = int(model.n_iter_)
    if method == "deepgum":
        out.update(detection(model, data.outlier_mask))
    return out


def warm_up(settings: Settings) -> float:
    """One untimed, uncached fit of each kind of model on 50 rows, so that the
    first timed cell does not pay for torch's and scikit-learn's first-call costs.
    Returns its seconds."""
    start = time.perf_counter()
    data = linear_law(50, 0.0, 0)
    for law in LAWS:
        for method in METHODS[law]:
            model = make_estimator(method, law, 0, settings)
            if hasattr(model, "max_epochs"):
                model.set_params(max_epochs=2)
            if isinstance(model, MLPRegressor):
                model.set_params(max_iter=2)
            fit_timed(model, data.X, data.y)
    return time.perf_counter() - start


def task_name(law: str, n: int) -> str:
    """Cache task of a regimes cell."""
    return f"{law}_n{n}"


def small_task(n: int, table: int) -> str:
    """Cache task of a small_clean table (the data seed is part of the task; the
    cell's seed is DeepGUM's ``random_state``)."""
    return f"linear_n{n}_data{table}"


def run_regimes(settings: Settings, cache: CellCache) -> list[dict]:
    """Every (law, n, rate, seed, method) cell, in the documented order."""
    rows = []
    tests = {law: clean_test_set(law) for law in LAWS}
    for n in settings.sizes:
        for law in LAWS:
            for rate in settings.rates:
                for seed in settings.seeds:
                    task = task_name(law, n)
                    data = None
                    # deepgum and mlp are timed back to back: never pair a cached
                    # fit with a new one.
                    pair = [
                        CellCache.key(SECTION, task, m, rate, seed)
                        for m in ("deepgum", "mlp")
                    ]
                    if sum(k in cache.records for k in pair) == 1:
                        for k in pair:
                            cache.records.pop(k, None)
                    for method in METHODS[law]:
                        key = CellCache.key(SECTION, task, method, rate, seed)
                        if data is None and key not in cache.records:
                            data = draw(law, n, rate, seed)

                        def compute(method=method, law=law, data=data, seed=seed):
                            return fit_cell(
                                method, law, data, tests[law], seed, settings
                            )

                        row = run_cell(
                            cache, SECTION, task, method, rate, seed, compute
                        )
                        rows.append({**row, "law": law, "n": n})
    return rows


def run_small_clean(settings: Settings, cache: CellCache) -> list[dict]:
    """DeepGUM (linear backbone) on tiny clean tables, several random states each."""
    rows = []
    test = clean_test_set("linear")
    for n in settings.small_sizes:
        for table in settings.small_tables:
            data = linear_law(n, 0.0, table)
            for state in settings.small_states:

                def compute(data=data, state=state):
                    return fit_cell("deepgum", "linear", data, test, state, settings)

                task = small_task(n, table)
                row = run_cell(cache, SMALL, task, "deepgum", 0.0, state, compute)
                rows.append({**row, "law": "linear", "n": n, "table": table})
    return rows


# ---------------------------------------------------------------------------
# Checks


def verdict(ok: bool | None, quick: bool) -> str:
    """PASS/FAIL ('n/a' when nothing was measured); info in quick mode."""
    if ok is None:
        return "n/a"
    word = "PASS" if ok else "FAIL"
    return f"info ({word})" if quick else word


def check(
    name: str, value: str, target: str, ok, quick: bool, detail="", context=""
) -> dict:
    """One row of the checks table; ``context`` (measured numbers that explain a
    miss) is printed under "Where we lose" when the check fails."""
    return {
        "check": name,
        "value": value,
        "target": target,
        "verdict": verdict(ok, quick),
        "detail": detail,
        "context": context,
    }


def mean_of(rows, metric, **where) -> float:
    """Mean over seeds of ``metric`` (NaN when nothing matches)."""
    return mean_std(select(rows, metric, **where))[0]


def ratio(a: float, b: float) -> float:
    """a / b, NaN when either is NaN or b is 0."""
    if math.isnan(a) or math.isnan(b) or b == 0:
        return math.nan
    return a / b


def per_seed_ratios(rows, metric, method, reference, **where) -> list[float]:
    """``metric`` of ``method`` / that of ``reference``, seed by seed (the seeds
    where both were measured), in seed order."""
    by_seed: dict = {}
    for r in rows:
        if r.get("method") in (method, reference) and metric in r:
            if all(r.get(k) == v for k, v in where.items()):
                by_seed.setdefault(r["seed"], {})[r["method"]] = r[metric]
    return [
        ratio(pair[method], pair[reference])
        for _, pair in sorted(by_seed.items())
        if len(pair) == 2
    ]


def fmt_list(values, digits: int = 3) -> str:
    """'a / b / c' with ``digits`` significant digits each."""
    return " / ".join(fmt(v, digits) for v in values)


def accuracy_context(rows, where: dict, reference: str) -> str:
    """What explains an accuracy miss: the ratio seed by seed, how the other
    methods fare against the same reference, and DeepGUM's flags."""
    seeds = per_seed_ratios(rows, "rmse", "deepgum", reference, **where)
    ref = mean_of(rows, "rmse", method=reference, **where)
    others = [
        f"{m} {fmt(ratio(mean_of(rows, 'rmse', method=m, **where), ref), 3)}x"
        for m in ("tukey", "mlp", "oracle")
        if m != reference
    ]
    false_pos = mean_of(rows, "false_positives", method="deepgum", **where)
    outliers = mean_of(rows, "n_outliers", method="deepgum", **where)
    found = mean_of(rows, "true_positives", method="deepgum", **where)
    return (
        f"per seed {fmt_list(seeds)}; against the same {reference}: "
        f"{', '.join(others)}; DeepGUM flags {fmt(false_pos, 3)} clean rows and "
        f"misses {fmt(outliers - found, 3)} of {fmt(outliers, 3)} outliers (means)"
    )


def speed_context(rows, where: dict) -> str:
    """What explains a speed miss: where MLPRegressor stopped, and at what error
    against DeepGUM's."""
    iters = mean_of(rows, "n_iter", method="mlp", **where)
    epochs = mean_of(rows, "n_iter", method="deepgum", **where)
    mlp = mean_of(rows, "rmse", method="mlp", **where)
    gum = mean_of(rows, "rmse", method="deepgum", **where)
    return (
        f"MLPRegressor stops after {fmt(iters, 3)} iterations on average (its tol; "
        f"max_iter {MLPRegressor().max_iter}) at a clean-test RMSE of {fmt(mlp)}; "
        f"DeepGUM runs {fmt(epochs, 3)} epochs to {fmt(gum)}, "
        f"{fmt(ratio(gum, mlp), 3)}x MLPRegressor's error"
    )


def accuracy_checks(rows, settings: Settings) -> list[dict]:
    """RMSE targets per law, n >= 50 and rate (means over seeds)."""
    out = []
    for law in LAWS:
        for n in settings.sizes:
            if n < ACCURACY_MIN_N:
                continue
            for rate in settings.rates:
                where = {"section": SECTION, "law": law, "n": n, "rate": rate}
                gum = mean_of(rows, "rmse", method="deepgum", **where)
                ref_method, bound = (
                    ("mlp", MLP_RATIO) if rate == 0 else ("oracle", ORACLE_RATIO)
                )
                ref = mean_of(rows, "rmse", method=ref_method, **where)
                r = ratio(gum, ref)
                ok = None if math.isnan(r) else r <= bound
                out.append(
                    check(
                        f"accuracy {law} n={n} rate={rate:g}",
                        fmt(r, 3),
                        f"RMSE(deepgum) / RMSE({ref_method}) <= {bound}",
                        ok,
                        settings.quick,
                        f"deepgum {fmt(gum)} vs {ref_method} {fmt(ref)}",
                        accuracy_context(rows, where, ref_method),
                    )
                )
    return out


def speed_checks(rows, settings: Settings) -> list[dict]:
    """Fit-time target per law, n >= 1e4 and rate (means over seeds)."""
    out = []
    for law in LAWS:
        for n in settings.sizes:
            if n < SPEED_MIN_N:
                continue
            for rate in settings.rates:
                where = {"section": SECTION, "law": law, "n": n, "rate": rate}
                gum = mean_of(rows, "fit_seconds", method="deepgum", **where)
                mlp = mean_of(rows, "fit_seconds", method="mlp", **where)
                r = ratio(gum, mlp)
                out.append(
                    check(
                        f"speed {law} n={n} rate={rate:g}",
                        fmt(r, 3),
                        "fit s(deepgum) / fit s(mlp) <= 1",
                        None if math.isnan(r) else r <= 1.0,
                        settings.quick,
                        f"deepgum {fmt(gum, 3)} s vs mlp {fmt(mlp, 3)} s",
                        speed_context(rows, where),
                    )
                )
    if not out:
        out.append(
            check(
                "speed at n >= 1e4",
                "n/a",
                "fit s(deepgum) / fit s(mlp) <= 1",
                None,
                settings.quick,
                f"no n >= {SPEED_MIN_N} in this run",
            )
        )
    return out


def small_tables(rows) -> list[dict]:
    """Per small_clean table: flagged counts per random state and stability."""
    out = []
    keys = sorted({(r["n"], r["table"]) for r in rows if r["section"] == SMALL})
    for n, table in keys:
        fits = [
            r
            for r in rows
            if r["section"] == SMALL and (r["n"], r["table"]) == (n, table)
        ]
        fits = sorted(fits, key=lambda r: r["seed"])
        ok_fits = [r for r in fits if "error" not in r]
        sets = {tuple(r["flagged_rows"]) for r in ok_fits}
        out.append(
            {
                "n": n,
                "table": table,
                "flagged": [r.get("n_flagged", math.nan) for r in fits],
                "sets": sets,
                "identical": len(sets) == 1 and len(ok_fits) == len(fits),
                "max_flagged": max((r["n_flagged"] for r in ok_fits), default=math.nan),
                "errors": len(fits) - len(ok_fits),
            }
        )
    return out


def small_checks(tables: list[dict], settings: Settings) -> list[dict]:
    """The two small_clean targets, one check per n."""
    out = []
    for n in settings.small_sizes:
        mine = [t for t in tables if t["n"] == n]
        if not mine:
            continue
        worst = max(t["max_flagged"] for t in mine)
        fits = sum(len(t["flagged"]) for t in mine)
        over = sum(f > MAX_FLAGGED_SMALL for t in mine for f in t["flagged"])
        errors = sum(t["errors"] for t in mine)
        overflown = [
            f"data seed {t['table']}: {t['flagged']} rows per random state"
            for t in mine
            if t["max_flagged"] > MAX_FLAGGED_SMALL
        ]
        unstable = [
            f"data seed {t['table']}: flagged sets "
            + " / ".join(str(list(f)) for f in sorted(t["sets"]))
            + f" ({t['flagged']} rows per random state)"
            for t in mine
            if not t["identical"]
        ]
        out.append(
            check(
                f"small_clean n={n}: rows flagged per fit",
                f"max {worst}",
                f"<= {MAX_FLAGGED_SMALL} in every fit",
                None
                if errors == len(mine) * len(settings.small_states)
                else (worst <= MAX_FLAGGED_SMALL and errors == 0),
                settings.quick,
                f"{over} of {fits} fits over; {errors} fit(s) raised",
                "; ".join(overflown),
            )
        )
        same = sum(t["identical"] for t in mine)
        out.append(
            check(
                f"small_clean n={n}: same flagged set across random states",
                f"{same}/{len(mine)} tables",
                "identical on every table",
                same == len(mine),
                settings.quick,
                f"{len(settings.small_states)} random states per table",
                "; ".join(unstable),
            )
        )
    return out


# ---------------------------------------------------------------------------
# Report


def regimes_tables(rows, settings: Settings) -> list[str]:
    """Per law: RMSE, detection and fit-time tables (mean ± std over seeds)."""
    lines = []
    for law in LAWS:
        methods = METHODS[law]
        acc, det, cost = [], [], []
        for n in settings.sizes:
            for rate in settings.rates:
                where = {"section": SECTION, "law": law, "n": n, "rate": rate}

                def m(metric, method, where=where):
                    return mean_of(rows, metric, method=method, **where)

                acc.append(
                    (
                        n,
                        f"{rate:g}",
                        *(
                            fmt_pm(select(rows, "rmse", method=k, **where))
                            for k in methods
                        ),
                        fmt(ratio(m("rmse", "deepgum"), m("rmse", "oracle")), 3),
                        fmt(ratio(m("rmse", "tukey"), m("rmse", "oracle")), 3),
                        fmt(ratio(m("rmse", "deepgum"), m("rmse", "mlp")), 3),
                    )
                )
                det.append(
                    (
                        n,
                        f"{rate:g}",
                        fmt(m("n_outliers", "deepgum"), 4),
                        fmt_pm(select(rows, "n_flagged", method="deepgum", **where)),
                        fmt_pm(
                            select(rows, "false_positives", method="deepgum", **where)
                        ),
                        fmt_pm(
                            select(rows, "true_positives", method="deepgum", **where)
                        ),
                        fmt_pm(select(rows, "auc", method="deepgum", **where), 3),
                    )
                )
                cost.append(
                    (
                        n,
                        f"{rate:g}",
                        *(
                            fmt_pm(select(rows, "fit_seconds", method=k, **where), 3)
                            for k in methods
                        ),
                        fmt(
                            ratio(m("fit_seconds", "deepgum"), m("fit_seconds", "mlp")),
                            3,
                        ),
                        fmt(m("n_iter", "deepgum"), 4),
                        fmt(m("n_iter", "mlp"), 4),
                    )
                )
        lines += [f"### {law}: clean-test RMSE (mean ± std over seeds)", ""]
        lines += md_table(
            ("n", "rate", *methods, "deepgum/oracle", "tukey/oracle", "deepgum/mlp"),
            acc,
        )
        lines += ["", f"### {law}: DeepGUM's flags (mean ± std over seeds)", ""]
        lines += md_table(
            (
                "n",
                "rate",
                "true outliers",
                "flagged",
                "false positives",
                "true positives",
                "AUC",
            ),
            det,
        )
        lines += [
            "",
            f"### {law}: fit seconds (mean ± std; deepgum then mlp back to back)",
            "",
        ]
        lines += md_table(
            (
                "n",
                "rate",
                *methods,
                "deepgum/mlp",
                "deepgum epochs",
                "mlp iterations",
            ),
            cost,
        )
        lines.append("")
    return lines


def small_lines(tables: list[dict]) -> list[str]:
    """The small_clean table: one row per (n, data seed)."""
    rows = []
    for t in tables:
        sets = sorted(t["sets"])
        shown = "; ".join(str(list(s)) for s in sets[:3]) + (
            " ..." if len(sets) > 3 else ""
        )
        rows.append(
            (
                t["n"],
                t["table"],
                " ".join(str(f) for f in t["flagged"]),
                "yes" if t["identical"] else "no",
                shown or "n/a",
            )
        )
    lines = ["### small_clean: DeepGUM (linear backbone) on clean linear tables", ""]
    lines += md_table(
        (
            "n",
            "data seed",
            "rows flagged per random state",
            "same set",
            "flagged set(s)",
        ),
        rows,
    )
    return [*lines, ""]


def outcome(c: dict) -> str:
    """'PASS', 'FAIL' or 'n/a' of a check, informational (quick) or not."""
    return c["verdict"].removeprefix("info (").removesuffix(")")


def losses(checks: list[dict]) -> list[str]:
    """The failed checks, plainly."""
    failed = [c for c in checks if outcome(c) == "FAIL"]
    if not failed:
        return ["Where we lose: nowhere among the targets of this run.", ""]
    lines = ["Where we lose (targets missed in this run):", ""]
    for c in failed:
        lines.append(
            f"- {c['check']}: {c['value']} (target {c['target']}; {c['detail']})"
        )
        if c.get("context"):
            lines.append(f"  - measured beside it: {c['context']}")
    return [*lines, ""]


def header_lines(command, env, settings: Settings, fingerprint, cache) -> list[str]:
    """Command, mode, environment, defaults, laws and cache state."""
    if settings.quick:
        epochs = (
            "every estimator at its defaults"
            if settings.max_epochs is None
            else f"max_epochs={settings.max_epochs} passed to every network and "
            f"max_iter={settings.max_epochs} to MLPRegressor (reduced from the "
            "defaults)"
        )
        mode = f"**--quick** smoke run: {epochs}; targets informational."
    else:
        mode = (
            "Full run: every estimator at its defaults (random_state and backbone set)."
        )
    lines = ["# bench_regimes results", "", f"Command: `{command}`", "", mode, ""]
    lines += [
        f"Sizes: {list(settings.sizes)}; rates: {list(settings.rates)}; seeds: "
        f"{list(settings.seeds)}; small_clean: n {list(settings.small_sizes)}, data "
        f"seeds {list(settings.small_tables)}, random states "
        f"{list(settings.small_states)}.",
        "",
        "Laws (training draws):",
        "",
        f"- linear (seed 0, rate 0.2, n 200): {linear_law(200, 0.2, 0).law}",
        "- tabular (seed 0, rate 0.2, n 200): " + draw("tabular", 200, 0.2, 0).law,
        f"- clean test sets: {TEST_ROWS} rows, noise 0, no outliers, seed {TEST_SEED}",
        "- all estimators get the raw X and y (no scaler)",
        "",
        "Environment:",
        "",
    ]
    lines += [f"- {k}: {v}" for k, v in env.items()]
    lines += [
        f"- torch threads (--threads): {settings.threads}",
        "",
        "Estimator defaults measured:",
        "",
        *estimator_defaults(),
        f"- MLPRegressor defaults: {MLPRegressor().get_params()}",
        "",
        f"Cache: fingerprint `{fingerprint}`; {cache.hits} cell(s) reused, "
        f"{cache.misses} computed, {cache.n_stale} stale record(s) ignored.",
        "",
    ]
    return lines


def summary_lines(checks: list[dict], quick: bool, rows: list[dict]) -> list[str]:
    """All checks in one table, the losses, then every cell whose fit raised."""
    head = "verdict (informational: --quick)" if quick else "verdict"
    lines = ["## summary of checks", ""]
    lines += md_table(
        ("check", "value", "target", head, "detail"),
        [
            (c["check"], c["value"], c["target"], c["verdict"], c["detail"])
            for c in checks
        ],
    )
    counts = {w: sum(outcome(c) == w for c in checks) for w in ("PASS", "FAIL", "n/a")}
    note = " (informational: --quick)" if quick else ""
    lines += [
        "",
        f"{counts['PASS']} PASS, {counts['FAIL']} FAIL, {counts['n/a']} n/a{note}.",
        "",
    ]
    lines += losses(checks)
    failed = [r for r in rows if "error" in r]
    lines += [f"Cells whose fit raised (left out of the means): {len(failed)}.", ""]
    lines += [
        f"- {r['section']}/{r['task']} {r['method']} rate={r['rate']:g} "
        f"seed={r['seed']}: {r['error']}"
        for r in failed
    ]
    return lines


def write_plot(rows, settings: Settings, path: Path) -> None:
    """RMSE ratio to the oracle and fit-time ratio to mlp against n (log x), one
    column per law, one colour per rate; deepgum solid, tukey dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    fig, axes = plt.subplots(2, len(LAWS), figsize=(5 * len(LAWS), 7), squeeze=False)
    colours = dict(zip(RATES, ("tab:blue", "tab:orange", "tab:red"), strict=True))
    for col, law in enumerate(LAWS):
        for row_i, (metric, den) in enumerate(
            (("rmse", "oracle"), ("fit_seconds", "mlp"))
        ):
            ax = axes[row_i][col]
            for rate in settings.rates:
                for method, style in (("deepgum", "-"), ("tukey", "--")):
                    values = []
                    for n in settings.sizes:
                        where = {"section": SECTION, "law": law, "n": n, "rate": rate}
                        values.append(
                            ratio(
                                mean_of(rows, metric, method=method, **where),
                                mean_of(rows, metric, method=den, **where),
                            )
                        )
                    ax.plot(
                        settings.sizes,
                        values,
                        style,
                        marker="o",
                        color=colours.get(rate, "black"),
                        label=f"{method} rate={rate:g}",
                    )
            ax.axhline(ORACLE_RATIO if metric == "rmse" else 1.0, color="grey", lw=0.8)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xticks(settings.sizes, [f"{n:g}" for n in settings.sizes])
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.yaxis.set_major_formatter(ScalarFormatter())
            ax.yaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel("training rows n")
            ax.set_ylabel(
                "RMSE / RMSE(oracle)" if metric == "rmse" else "fit s / fit s(mlp)"
            )
            ax.set_title(f"{law}: {'accuracy' if metric == 'rmse' else 'fit time'}")
        axes[0][col].legend(fontsize=7)
    mode = "quick" if settings.quick else "full"
    fig.suptitle(
        f"bench_regimes ({mode}, {len(settings.seeds)} seed(s), means over seeds)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def csv_rows(rows: list[dict]) -> list[dict]:
    """Rows for results.csv: long flagged-row lists left to cells.jsonl."""
    out = []
    for row in rows:
        row = dict(row)
        flagged = row.get("flagged_rows")
        if flagged is not None:
            row["flagged_rows"] = (
                " ".join(map(str, flagged))
                if len(flagged) <= CSV_MAX_ROWS
                else f"({len(flagged)} rows: see cells.jsonl)"
            )
        out.append(row)
    return out


def parse_args(argv=None):
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="CI smoke run (< 30 s)")
    parser.add_argument("--full", action="store_true", help="the full run (default)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (3)")
    parser.add_argument("--max-n", type=int, default=max(SIZES), help="largest n")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1)")
    parser.add_argument("--out", type=Path, default=None, help="output folder")
    parser.add_argument(
        "--resume",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="reuse finished cells from cells.jsonl (default: on)",
    )
    args = parser.parse_args(argv)
    if args.quick and args.full:
        parser.error("--quick and --full exclude each other")
    if args.seeds is not None and args.seeds < 1:
        parser.error("--seeds must be >= 1")
    if args.threads < 1:
        parser.error("--threads must be >= 1")
    if args.out is None:
        args.out = DEFAULT_OUT / "quick" if args.quick else DEFAULT_OUT
    return args


def main(argv=None) -> int:
    """Run both sections, print and write the report."""
    start = time.perf_counter()
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    settings = make_settings(args)
    command = "python " + shlex.join(sys.argv if argv is None else ["bench", *argv])
    args.out.mkdir(parents=True, exist_ok=True)
    fingerprint = source_fingerprint(settings)
    cache = CellCache(args.out / "cells.jsonl", fingerprint, args.resume)
    env = environment(settings)
    print(f"Command: {command}")
    for k, v in env.items():
        print(f"{k}: {v}")
    print(f"== {SECTION}", flush=True)
    t0 = time.perf_counter()
    rows = run_regimes(settings, cache)
    regimes_s = time.perf_counter() - t0
    print(f"== {SMALL}", flush=True)
    t0 = time.perf_counter()
    small_rows = run_small_clean(settings, cache)
    small_s = time.perf_counter() - t0
    tables = small_tables(small_rows)
    checks = [
        *accuracy_checks(rows, settings),
        *speed_checks(rows, settings),
        *small_checks(tables, settings),
    ]
    all_rows = rows + small_rows
    body = ["## regimes", "", *regimes_tables(rows, settings)]
    body += [f"Section wall time: {regimes_s:.1f} s", "", "## small_clean", ""]
    body += [*small_lines(tables), f"Section wall time: {small_s:.1f} s", ""]
    total = time.perf_counter() - start
    report = header_lines(command, env, settings, fingerprint, cache) + body
    report += summary_lines(checks, settings.quick, all_rows)
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    report += [
        "",
        f"Load average at the end: {load}",
        f"Total wall time: {total:.1f} s",
    ]
    files = [
        args.out / "results.md",
        args.out / "results.csv",
        args.out / "regimes.png",
    ]
    files[0].write_text("\n".join(report) + "\n")
    write_csv(csv_rows(all_rows), files[1])
    write_plot(rows, settings, files[2])
    print("\n".join(body))
    print("\n".join(summary_lines(checks, settings.quick, all_rows)))
    print(f"Cache: {cache.hits} reused, {cache.misses} computed, {cache.n_stale} stale")
    print("Wrote " + ", ".join(str(f) for f in files))
    print(f"Total wall time: {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
