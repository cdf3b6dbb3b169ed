"""Clean-test error, outlier detection and cost of DeepGUMRegressor versus plain L2.

Every estimator at its defaults (``random_state`` set); references and ablations
change one parameter each (:func:`make_estimator`); clean test sets of 2,000
noiseless rows of the same law. Sections:

- ``robustness``: the tabular law (1,000 rows, ``U(-6, 6)`` outlier rows), rates
  0-0.6, 9 seeds; ``deepgum`` against ``deepgum_clean`` and ``oracle`` (clean rows,
  at the all-rows fits' optimiser steps), ``l2``, ``l2_bayes_weights`` (weights
  from the true posterior) and ablations. Targets: RMSE(deepgum)/RMSE(deepgum_clean)
  <= 1.10 at 20 and 40 %, <= 1.25 at 60 %; <= 1.05 x l2's at 0 %; AUC >= 0.98 and
  F1 >= 0.93 at 20 and 40 %.
- ``groups``: K = 2, 4 targets, each column corrupted independently; one latent per
  row against one per column. Target: per-column mean RMSE below per-row.
- ``timing``: interleaved fits of DeepGUM and L2 at equal ``n_iter_``. Target:
  median ratio <= 1.15.
- ``do_no_harm``: heavy-tailed noise and 8 targets on 300 rows, at 0 and 20 %:
  mean RMSE(deepgum) <= mean RMSE(l2) + pooled std.

``--quick`` (CI, < 2 minutes; verdicts informational): 1 seed, rates 0 and 0.4,
300 rows, K = 4, 3 timed fits, ``max_epochs = min(default, warm_up_epochs + 4
epochs_per_round)``.

    python benchmarks/bench_regressor.py [--quick] [--only robustness] [--seeds 3]

Writes ``results.md``, ``results.csv`` and ``robustness_rmse.png`` to ``--out``
(default ``benchmarks/results/regressor/[quick/]``; ``--only`` suffixes them),
reusing ``cells.jsonl`` while the code fingerprint matches (timing never). The
committed ``results_regressor.md`` is the ``--no-resume`` run's.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass
from functools import partial

import _laws
import numpy as np
import torch
from _common import (
    HERE,
    CellCache,
    Section,
    auc_or_nan,
    cached_parser,
    code_fingerprint,
    detection,
    equal_step_params,
    f1_or_nan,
    fit_timed,
    mean_of,
    mean_std,
    parse_cached,
    pyplot,
    rmse,
    run_cell,
    run_sections,
    save_figure,
    select,
    start_run,
    steps_per_epoch,
    write_results,
)
from _report import (
    check,
    checks_table,
    defaults_lines,
    fmt,
    fmt_pm,
    md_table,
    pm,
    pm_cells,
    report_header,
    summary_lines,
)
from scipy import stats
from sklearn.utils import Bunch

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.baselines import RobustNetRegressor
from sk_deepgum.datasets import contaminate, make_contaminated_regression
from sk_deepgum.datasets._common import outlier_posterior

SECTIONS = ("robustness", "groups", "timing", "do_no_harm")
TEST_SEED, TEST_ROWS = _laws.TEST_SEED, _laws.TEST_ROWS
ROBUST_LAW = {**_laws.TABULAR_LAW, "outlier_kind": "uniform"}
ROBUST_METHODS = (
    *("deepgum", "deepgum_clean", "deepgum_wd0", "deepgum_no_swa"),
    *("l2", "l2_bayes_weights", "oracle"),
)
#: Ablations (info, no target): method -> (parameters changed, rates fitted).
ROBUST_ABLATIONS = {
    "deepgum_gaussian": ({"inlier_df": None}, (0.2, 0.4, 0.6)),
    "deepgum_warmup0": ({"warm_up_epochs": 0}, (0.4,)),
    "deepgum_warmup20": ({"warm_up_epochs": 20}, (0.4,)),
    "deepgum_warmup50": ({"warm_up_epochs": 50}, (0.4,)),
}
#: RMSE(deepgum) / RMSE(deepgum_clean) targets by rate.
RATIO_TARGETS = {0.2: 1.10, 0.4: 1.10, 0.6: 1.25}
#: Full mode's robustness seeds (its ratios are seed-sensitive).
FULL_ROBUST_SEEDS = 9
#: DeepGUM's columns of the robustness detection table (l2's AUC after the second).
DETECTION_METRICS = ("auc", "bayes_auc", "f1", "bayes_f1", "flagged_share")
DETECTION_METRICS += ("inlier_prior", "true_inlier_share")
GROUP_METHODS = ("deepgum_row", "deepgum_each", "l2", "oracle")
GROUP_METRICS = ("rmse", "entry_auc", "bayes_entry_auc", "entry_f1", "bayes_entry_f1")
GROUP_METRICS += ("row_auc", "bayes_row_auc", "inlier_prior", "true_inlier_share")
GROUP_RATE, GROUP_NOISE, GROUP_FEATURES = 0.2, 0.1, 5
DNH_RATES = (0.0, 0.2)
DNH_ABLATION = "deepgum_paper_precision"
DNH_METHODS = ("deepgum", "l2", DNH_ABLATION)
T_DF, T_SCALE = 3, 0.3
MANY_OUTPUTS = {"n_features": 10, "n_targets": 8, "noise": 0.3}


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


def quick_max_epochs() -> int:
    """A few EM rounds after DeepGUM's warm-up, at most the default max_epochs."""
    gum, l2 = DeepGUMRegressor(), RobustNetRegressor()
    rounds = gum.warm_up_epochs + 4 * gum.epochs_per_round
    return int(min(gum.max_epochs, l2.max_epochs, rounds))


def make_settings(args) -> Settings:
    """Turn the parsed command line into :class:`Settings`."""
    q = args.quick
    return Settings(
        quick=q,
        seeds=tuple(range(args.seeds or (1 if q else 3))),
        robust_seeds=tuple(range(args.seeds or (1 if q else FULL_ROBUST_SEEDS))),
        rates=(0.0, 0.4) if q else (0.0, 0.2, 0.4, 0.6),
        n_robust=300 if q else 1000,
        n_groups=300 if q else 1000,
        group_targets=(4,) if q else (2, 4),
        n_heavy_tail=300 if q else 1000,
        n_many_outputs=300,
        timing_runs=3 if q else 5,
        max_epochs=quick_max_epochs() if q else None,
        threads=torch.get_num_threads(),
    )


def make_estimator(method: str, seed: int, settings: Settings):
    """Unfitted estimator at its defaults but ``random_state``, the method's one
    change and the quick ``max_epochs``."""
    kwargs = {"random_state": seed}
    if settings.max_epochs is not None:
        kwargs["max_epochs"] = settings.max_epochs
    changes = {
        "deepgum_each": {"groups": "each"},
        "deepgum_wd0": {"optimizer__weight_decay": 0.0},
        "deepgum_no_swa": {"swa_start": None},
        "deepgum_paper_precision": {"precision_shrinkage": 0.0},
        **{m: params for m, (params, _) in ROBUST_ABLATIONS.items()},
    }
    if method.startswith("deepgum"):
        return DeepGUMRegressor(**changes.get(method, {}), **kwargs)
    if method in ("l2", "l2_bayes_weights", "oracle"):
        return RobustNetRegressor(loss="l2", **kwargs)
    raise ValueError(f"unknown method {method!r}")


def inlier_prior(model) -> float:
    """Learnt inlier prior ``mixture_.weights_[..., 0]`` (mean over latent groups)."""
    return float(np.mean(np.asarray(model.mixture_.weights_)[..., 0]))


def fit_and_score(estimator, X, y, test: Bunch, sample_weight=None) -> dict:
    """Fit, then clean-test RMSE (against ``test.y_noiseless``), epochs, seconds."""
    seconds = fit_timed(estimator, X, y, sample_weight=sample_weight)
    return {
        "rmse": rmse(estimator.predict(test.X), test.y_noiseless),
        "n_iter": int(estimator.n_iter_),
        "fit_seconds": seconds,
        "n_train": len(X),
    }


def row_detection(model, mask: np.ndarray) -> dict:
    """Row-level detection metrics of a fitted DeepGUMRegressor against ``mask``."""
    return {
        **detection(mask, model.outlier_scores_, model.outliers_),
        "flagged_share": float(np.mean(model.outliers_)),
        "inlier_prior": inlier_prior(model),
        "true_inlier_share": float(1.0 - np.mean(mask)),
    }


def contaminate_box(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``contaminate(kind="uniform")``'s box per column: min/max -+ range/2."""
    Y = np.asarray(y, dtype=float).reshape(len(y), -1)
    low, high = Y.min(axis=0), Y.max(axis=0)
    half = 0.5 * (high - low)
    return low - half, high + half


def uniform_log_density(y: np.ndarray, low, high) -> np.ndarray:
    """Per-entry log density of ``U(low_j, high_j)``, shape of ``y`` (n, K)."""
    inside = (y >= low) & (y <= high)
    return np.where(inside, -np.log(high - low), -np.inf)


def groups_data(n_targets: int, seed: int, n: int) -> Bunch:
    """K targets, each column corrupted independently (20 % uniform), with the
    Bayes per-entry posterior ``proba``."""
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
    """Do-no-harm task (a): noiseless law + 0.3 t_3 noise + uniform row outliers."""
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


def fingerprint(settings: Settings) -> str:
    """Cache fingerprint: the package, the cells' code and the mode's sizes."""
    cells = (make_estimator, inlier_prior, fit_and_score, row_detection)
    cells += (detection, contaminate_box, uniform_log_density, groups_data)
    cells += (heavy_tail_data, many_outputs_data, robustness_cell, groups_cell)
    cells += (dnh_cell, rmse, auc_or_nan, f1_or_nan, equal_step_params)
    cells += (steps_per_epoch, fit_timed, _laws.tabular, _laws.tabular_test)
    keep = ("quick", "n_robust", "n_groups", "n_heavy_tail", "n_many_outputs")
    identity = {k: getattr(settings, k) for k in (*keep, "max_epochs", "threads")}
    identity |= {"ablations": ROBUST_ABLATIONS, "many_outputs": MANY_OUTPUTS}
    identity |= {"test": (TEST_SEED, TEST_ROWS), "t": (T_DF, T_SCALE)}
    return code_fingerprint(identity, cells)


def fmt_epochs(rows, **where) -> str:
    """The distinct ``n_iter_`` values of the matching rows."""
    values = sorted({int(v) for v in select(rows, "n_iter", **where)})
    return "/".join(str(v) for v in values) or "n/a"


def ratio_of_means(rows, metric, num: dict, den: dict) -> tuple[float, str]:
    """mean(num) / mean(den), and the per-seed ratios as 'mean ± std'."""
    a, b = select(rows, metric, **num), select(rows, metric, **den)
    if a.size == 0 or b.size == 0:
        return math.nan, "n/a"
    per_seed = a / b if a.shape == b.shape else np.array([math.nan])
    return float(np.mean(a) / np.mean(b)), f"per seed {fmt_pm(per_seed, 3)}"


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
        bayes = data.outlier_proba_bayes
        result.update(detection(data.outlier_mask, bayes, name="bayes_{}"))
    elif method == "deepgum_clean":
        result.update(row_detection(estimator, np.zeros(len(X), dtype=bool)))
    return result


def run_robustness(settings: Settings, cache: CellCache) -> Section:
    """Fit every (rate, seed, method) cell and summarise."""
    out = Section()
    test = _laws.tabular_test()
    laws = {}
    ablations, skipped = ablations_to_run(settings)
    for rate in settings.rates:
        extra = [m for m in ablations if rate in ROBUST_ABLATIONS[m][1]]
        for seed in settings.robust_seeds:
            data = _laws.tabular(settings.n_robust, rate, seed)
            laws.setdefault(rate, data.law)
            for method in (*ROBUST_METHODS, *extra):
                compute = partial(robustness_cell, method, data, test, seed, settings)
                task = "uniform_p5_K1"
                row = run_cell(cache, "robustness", task, method, rate, seed, compute)
                out.rows.append(row)
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
    """The ablations this mode fits, and why any other is skipped."""
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
    """'name=value (default d)' of the parameters an ablation changes."""
    default = DeepGUMRegressor().get_params()
    return ", ".join(
        f"{k}={v} (default {default[k]})"
        for k, v in ROBUST_ABLATIONS[method][0].items()
    )


def _paired_reading(rows, method: str, rate: float, metric: str) -> str:
    """``metric`` of ``method`` against ``deepgum``'s, paired over seeds: 'higher'
    or 'lower' beyond two standard errors, else 'no clear difference'."""
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
    """(rate, ablation cell, deepgum cell) for each of ``method``'s rates run."""
    return [
        (rate, {"method": method, "rate": rate}, {"method": "deepgum", "rate": rate})
        for rate in ROBUST_ABLATIONS[method][1]
        if rate in settings.rates
    ]


def ablation_lines(rows, settings: Settings, ablations, skipped) -> list[str]:
    """The ablations beside ``deepgum``, then one reading line per ablation."""
    if not ablations and not skipped:
        return []
    lines = [
        "Ablations of DeepGUM defaults (info, no target): each changes one "
        "parameter and is fitted on the same draws and seeds as deepgum; mean ± std "
        f"over {len(settings.robust_seeds)} seed(s); RMSE ratio = mean(ablation) / "
        "mean(deepgum).",
        "",
    ]
    body = []

    for method in ablations:
        for rate, here, gum in _ablation_pairs(method, settings):
            ratio, _ = ratio_of_means(rows, "rmse", here, gum)
            cells = [pm(rows, "rmse", **here), pm(rows, "rmse", **gum), fmt(ratio, 3)]
            cells += [pm(rows, "auc", **here), pm(rows, "auc", **gum)]
            cells += [pm(rows, "f1", **here), pm(rows, "inlier_prior", **here)]
            epochs = fmt_epochs(rows, **here)
            body.append([method, _changed(method), f"{rate:g}", *cells, epochs])
    if body:
        lines += md_table(
            "ablation | parameter | rate | clean-test RMSE | deepgum RMSE | RMSE ratio"
            " | AUC | deepgum AUC | F1 | inlier prior | epochs",
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
            auc_a, auc_d = pm(rows, "auc", **here), pm(rows, "auc", **gum)
            name = f"RMSE {method} / deepgum @ {rate:g}"
            detail = f"{detail}; AUC {auc_a} vs deepgum {auc_d}"
            out.append(check(name, value, "(ablation, no target)", "info", detail))
    return out


def robustness_tables(rows, settings: Settings) -> list[str]:
    """RMSE table and detection table (mean ± std over seeds)."""
    rmse_rows, det_rows = [], []
    for rate in settings.rates:
        cells = [pm(rows, "rmse", method=m, rate=rate) for m in ROBUST_METHODS]
        epochs = " / ".join(
            fmt_epochs(rows, method=m, rate=rate) for m in ROBUST_METHODS
        )
        rmse_rows.append((f"{rate:g}", *cells, epochs))

        gum = pm_cells(rows, DETECTION_METRICS, method="deepgum", rate=rate)
        gum.insert(2, pm(rows, "auc", method="l2_bayes_weights", rate=rate))
        gum.append(pm(rows, "inlier_prior", method="deepgum_clean", rate=rate))
        det_rows.append((f"{rate:g}", *gum))
    lines = [
        "Training budgets: equal optimiser steps, not epochs. deepgum_clean and "
        "oracle train on the clean rows only; an epoch is ceil(max(n, "
        "min_rows_per_epoch) / batch_size) steps, and where the clean rows have fewer "
        "their max_epochs is multiplied by r = steps(n_all) / steps(n_clean) and "
        "rounded up, DeepGUM's warm_up_epochs and epochs_per_round "
        "by r and rounded (swa_start is a share of max_epochs and follows). The last "
        "column gives the epochs each ran.",
        "",
        f"Clean-test RMSE, mean ± std over {len(settings.robust_seeds)} seed(s):",
        "",
    ]
    lines += md_table(
        ("rate", *ROBUST_METHODS, "epochs run (n_iter_, same order)"), rmse_rows
    )
    lines += ["", "DeepGUM outlier detection on the training set:", ""]
    lines += md_table(
        "rate | AUC | AUC Bayes | AUC of l2_bayes_weights' residuals | F1 | F1 Bayes"
        " | flagged share | inlier prior (learnt) | true inlier share"
        " | prior of deepgum_clean (truth 1)",
        det_rows,
    )
    return lines


def robustness_checks(rows, settings: Settings) -> list[dict]:
    """The robustness targets, then the ablations' and the oracle ratios (info)."""

    def vs(method, reference, rate):
        num, den = {"method": method, "rate": rate}, {"method": reference, "rate": rate}
        return ratio_of_means(rows, "rmse", num, den)

    out = []
    for rate in settings.rates:
        gum = {"method": "deepgum", "rate": rate}
        if rate in RATIO_TARGETS:
            limit = RATIO_TARGETS[rate]
            value, detail = vs("deepgum", "deepgum_clean", rate)
            name = f"RMSE deepgum / deepgum_clean @ {rate:g}"
            out.append(check(name, value, f"<= {limit}", value <= limit, detail))
        if rate == 0.0:
            value, detail = vs("deepgum", "l2", rate)
            name = "RMSE deepgum / l2 @ 0"
            out.append(check(name, value, "<= 1.05", value <= 1.05, detail))
        if rate in (0.2, 0.4):
            for metric, limit in (("auc", 0.98), ("f1", 0.93)):
                value = mean_of(rows, metric, **gum)
                detail = f"Bayes-optimal {fmt(mean_of(rows, f'bayes_{metric}', **gum))}"
                name = f"{metric.upper()} deepgum @ {rate:g}"
                out.append(check(name, value, f">= {limit}", value >= limit, detail))
    info = [
        (method, "deepgum_clean", "(ablation, no target)", rate)
        for method in ("deepgum_wd0", "deepgum_no_swa")
        for rate in settings.rates
        if rate in RATIO_TARGETS
    ]
    info += [
        (method, "oracle", "(no target)", rate)
        for rate in settings.rates
        for method in ("deepgum", "l2")
    ]
    for method, reference, target, rate in info:
        value, detail = vs(method, reference, rate)
        name = f"RMSE {method} / {reference} @ {rate:g}"
        out.append(check(name, value, target, "info", detail))
    return out


def write_robustness_plot(rows, settings: Settings, path) -> None:
    """Clean-test RMSE versus outlier rate per method, mean ± std error bars."""
    fig, ax = pyplot().subplots(figsize=(6, 4))
    rates = settings.rates
    for method in ROBUST_METHODS:
        stats_ = [mean_std(select(rows, "rmse", method=method, rate=r)) for r in rates]
        stds = [0.0 if math.isnan(s) else s for _, s in stats_]
        means = [m for m, _ in stats_]
        ax.errorbar(rates, means, yerr=stds, marker="o", capsize=3, label=method)
    mode = "quick" if settings.quick else "full"
    seeds = len(settings.robust_seeds)
    ax.set(yscale="log", xlabel="outlier rate (uniform U(-6, 6) rows)")
    ax.set(ylabel="clean-test RMSE")
    ax.set_title(f"robustness, n={settings.n_robust}, {seeds} seed(s), {mode}")
    ax.legend()
    save_figure(fig, path, dpi=120)


def groups_cell(method, data, test, seed, settings) -> dict:
    """Fit one groups method on one draw; DeepGUM's detection per entry and row."""
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
            **detection(data.mask, data.proba, name="bayes_entry_{}"),
            "bayes_row_auc": auc_or_nan(row_mask, row_proba),
        }
    )
    return result


def run_groups(settings: Settings, cache: CellCache) -> Section:
    """Per-row versus per-column latents on independently corrupted columns."""
    out = Section()
    out.lines += ["## groups", ""]
    table = []
    for n_targets in settings.group_targets:
        task = f"K{n_targets}_each20"
        test = _laws.tabular_test(GROUP_FEATURES, n_targets)
        for seed in settings.seeds:
            data = groups_data(n_targets, seed, settings.n_groups)
            if seed == settings.seeds[0]:
                out.lines += [f"- {task}: `{data.law}`"]
            for method in GROUP_METHODS:
                compute = partial(groups_cell, method, data, test, seed, settings)
                out.rows.append(
                    run_cell(cache, "groups", task, method, GROUP_RATE, seed, compute)
                )
        for method in GROUP_METHODS:
            cells = pm_cells(out.rows, GROUP_METRICS, task=task, method=method)
            epochs = fmt_epochs(out.rows, task=task, method=method)
            table.append((task, method, *cells, epochs))
        row_rmse = select(out.rows, "rmse", task=task, method="deepgum_row")
        each_rmse = select(out.rows, "rmse", task=task, method="deepgum_each")
        value = float(np.mean(each_rmse) / np.mean(row_rmse))
        name = f"{task}: mean RMSE per-column / per-row"
        detail = f"per-column {fmt_pm(each_rmse)} vs per-row {fmt_pm(row_rmse)}"
        target = "< 1 (per-column beats per-row)"
        out.checks.append(check(name, value, target, value < 1.0, detail))
        oracle = {"task": task, "method": "oracle"}
        for method in ("deepgum_row", "deepgum_each", "l2"):
            here = {"task": task, "method": method}
            ratio, detail = ratio_of_means(out.rows, "rmse", here, oracle)
            name = f"{task}: RMSE {method} / oracle"
            out.checks.append(check(name, ratio, "(no target)", "info", detail))
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
        "task | method | clean-test RMSE | entry AUC | entry AUC Bayes | entry F1"
        " | entry F1 Bayes | row AUC | row AUC Bayes | inlier prior | true share"
        " | epochs",
        table,
    )
    out.lines += ["", *checks_table(out.checks, settings.quick), ""]
    return out


def time_one_fit(method: str, data: Bunch, settings: Settings) -> tuple[float, int]:
    """Seconds of one fit (random_state=0) and the epochs it ran."""
    estimator = make_estimator(method, 0, settings)
    return fit_timed(estimator, data.X, data.y), int(estimator.n_iter_)


def run_timing(settings: Settings) -> Section:
    """Interleaved fit timings of DeepGUM and L2 at equal (default) epochs."""
    out = Section()
    data = _laws.tabular(settings.n_robust, 0.2, 0)
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
            row = dict(section="timing", task="uniform_p5_K1", method=method)
            row |= {"rate": 0.2, "seed": 0, "run": run, "fit_seconds": s}
            out.rows.append({**row, "n_iter": n_iter, "cached": False})
            print(f"  timing {method:<8} run {run}: {s:.2f}s, n_iter_={n_iter}")
    load_after = os.getloadavg()
    table = []
    for method, values in seconds.items():
        q25, q50, q75 = np.percentile(values, [25, 50, 75])
        run = "/".join(str(e) for e in sorted(set(epochs[method])))
        cells = [f"{q50:.3f}", f"{min(values):.3f}", f"{q75 - q25:.3f}", run]
        table.append([method, *cells, len(values)])
    all_epochs = set(epochs["deepgum"]) | set(epochs["l2"])
    one = len(all_epochs) == 1
    gum_s, l2_s = np.median(seconds["deepgum"]), np.median(seconds["l2"])
    ratio = float(gum_s / l2_s)
    shown = "/".join(str(e) for e in sorted(all_epochs))
    detail = f"medians {gum_s:.3f} s / {l2_s:.3f} s; FAIL too if the epochs differ"
    name = "median fit seconds deepgum / l2"
    out.checks = [
        check("n_iter_ equal for every fit of both", shown, "one value", one),
        check(name, ratio, "<= 1.15", ratio <= 1.15 and one, detail),
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
        "method | median s | min s | IQR s | epochs (n_iter_) | fits", table
    )
    out.lines += ["", *checks_table(out.checks, settings.quick), ""]
    return out


def dnh_cell(method, data, test, seed, settings) -> dict:
    """Fit DeepGUM or L2 on one do-no-harm draw and score it."""
    estimator = make_estimator(method, seed, settings)
    result = fit_and_score(estimator, data.X, data.y, test)
    if method == "deepgum":
        result.update(row_detection(estimator, data.mask))
        result.update(detection(data.mask, data.proba, name="bayes_{}"))
    return result


def run_do_no_harm(settings: Settings, cache: CellCache) -> Section:
    """DeepGUM must not be worse than L2 where the net fits inliers poorly."""
    out = Section()
    out.lines += ["## do_no_harm", "", "Laws (seed 0):", ""]
    tasks = {
        "heavy_tail": (
            lambda rate, seed: heavy_tail_data(rate, seed, settings.n_heavy_tail),
            _laws.tabular_test(),
        ),
        "many_outputs": (
            lambda rate, seed: many_outputs_data(rate, seed, settings.n_many_outputs),
            _laws.tabular_test(MANY_OUTPUTS["n_features"], MANY_OUTPUTS["n_targets"]),
        ),
    }
    table = []
    for task, (make_data, test) in tasks.items():
        for rate in DNH_RATES:
            for seed in settings.seeds:
                data = make_data(rate, seed)
                if seed == settings.seeds[0]:
                    out.lines.append(f"- {task} @ {rate:g}: `{data.law}`")
                for method in DNH_METHODS:
                    compute = partial(dnh_cell, method, data, test, seed, settings)
                    out.rows.append(
                        run_cell(cache, "do_no_harm", task, method, rate, seed, compute)
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
        "task | rate | deepgum | l2 | deepgum, precision_shrinkage=0 (ablation)"
        f" | gum − l2 | pooled std | {head} | inlier prior (learnt)"
        " | true inlier share | AUC | AUC Bayes | epochs gum / l2",
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
    name = f"{task} @ {rate:g}: mean RMSE deepgum <= l2 + pooled std"
    detail = f"l2 {fmt(m_l2)}, pooled std {fmt(pooled, 2)}"
    limit = m_l2 + pooled
    chk = check(name, m_gum, f"<= {fmt(limit)}", m_gum <= limit, detail)
    ablation = pm(rows, "rmse", task=task, rate=rate, method=DNH_ABLATION)
    metrics = ("inlier_prior", "true_inlier_share", "auc", "bayes_auc")
    epochs = f"{fmt_epochs(rows, **gum_where)} / {fmt_epochs(rows, **l2_where)}"
    row = (task, f"{rate:g}", fmt_pm(gum), fmt_pm(l2), ablation, f"{m_gum - m_l2:+.3g}")
    row += (fmt(pooled, 2), chk["verdict"], *pm_cells(rows, metrics, **gum_where))
    return row + (epochs,), chk


def parse_args(argv=None):
    """Command-line options (see the module docstring)."""
    parser = cached_parser(__doc__, "< 2 min")
    parser.add_argument("--only", choices=SECTIONS, default=None, help="one section")
    return parse_cached(parser, argv, HERE / "results" / "regressor")


def main(argv=None) -> int:
    """Run the chosen sections, print and write the report."""
    start = time.perf_counter()
    args = parse_args(argv)
    settings = make_settings(args)
    fp = fingerprint(settings)
    command, cache, env = start_run(argv, "bench_regressor.py", args, fp)
    if settings.quick:
        print(f"--quick: max_epochs={settings.max_epochs} for every estimator")
    runners = {
        "robustness": lambda: run_robustness(settings, cache),
        "groups": lambda: run_groups(settings, cache),
        "timing": lambda: run_timing(settings),
        "do_no_harm": lambda: run_do_no_harm(settings, cache),
    }
    names = (args.only,) if args.only else SECTIONS
    results, run = run_sections({name: runners[name] for name in names})
    mode = "Full run: every estimator at its defaults (only random_state/groups set)."
    if settings.quick:
        mode = (
            f"**--quick** smoke run: max_epochs={settings.max_epochs} passed equally "
            "to every estimator (reduced from the defaults); PASS/FAIL informational."
        )
    seeds = (
        f"Seeds: {list(settings.seeds)} (robustness: {list(settings.robust_seeds)})."
    )
    defaults = defaults_lines(DeepGUMRegressor(), RobustNetRegressor())
    after = ["", "Estimator defaults measured:", "", *defaults, ""]
    report = report_header(
        "bench_regressor results", command, mode, env, [seeds, ""], after
    )
    summary = summary_lines(run.checks, settings.quick, run.rows)
    report += [f"Cache: fingerprint `{fp}`; {cache.counts()}.", "", *run.lines]
    report += summary
    print("\n".join(summary))
    plots = []
    if "robustness" in results:
        plot = partial(write_robustness_plot, results["robustness"].rows, settings)
        plots.append(("robustness_rmse", plot))
    suffix = f"_{args.only}" if args.only else ""
    write_results(args.out, report, run.rows, cache, start, plots, suffix)
    return 0


if __name__ == "__main__":
    sys.exit(main())
