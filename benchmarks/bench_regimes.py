"""Defaults across data regimes: DeepGUMRegressor from 20 to 100,000 rows.

``regimes``: n in {20, 50, 200, 1e3, 1e4, 1e5} (``--max-n`` caps them), rates {0,
0.2, 0.4}, 3 seeds, on the ``tabular`` and ``linear`` laws of ``_laws.py`` (linear:
linear backbone). Every estimator at its defaults on the raw data: ``deepgum``,
``mlp`` (``MLPRegressor``, timed back to back with deepgum), ``tukey``, ``oracle``
(L2 on the clean rows), ``ols`` (linear law); an untimed 2-epoch warm-up first.
``small_clean``: DeepGUM on clean linear tables of 10-50 rows, 5 data seeds x 5
random states: rows flagged, and whether the set is stable.

Targets (means over seeds): at n >= 50, RMSE(deepgum) <= 1.25 x the oracle's at 20
and 40 %, <= 1.05 x mlp's at 0 %; at n >= 1e4, fit seconds <= mlp's; small_clean: at
most one row flagged per fit, one flagged set per table; missed ones are listed
under "Where we lose". ``--quick`` (CI, < 30 s; informational): n {20, 200}, rates
{0, 0.4}, seed 0, small n {10, 20} x 2 states, ``max_epochs=20`` (``max_iter`` for
MLPRegressor).

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python benchmarks/bench_regimes.py \\
        [--quick] [--max-n 100000] [--seeds 3] [--threads 1] [--out DIR] [--no-resume]

Writes ``results.md``, ``results.csv`` and ``regimes.png`` to ``--out`` (default
``benchmarks/results/regimes/[quick/]``), reusing ``cells.jsonl`` while the code
fingerprint matches. The committed ``results_regimes.md`` is the full run's
(``--max-n 10000``: about 20 minutes on one core, the 1e5 cells another 20).
"""

from __future__ import annotations

import math
import os
import sys
import time
import uuid
from dataclasses import dataclass
from functools import partial
from itertools import product

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
    fit_timed,
    load_average,
    mean_of,
    parse_cached,
    pyplot,
    ratio,
    rmse,
    run_cell,
    run_sections,
    save_figure,
    start_run,
    write_results,
)
from _laws import LAWS, TEST_ROWS, TEST_SEED, clean_test_set, draw, linear_law
from _report import (
    check,
    defaults_lines,
    fmt,
    md_table,
    pm,
    report_header,
    summary_lines,
)
from sklearn.linear_model import LinearRegression
from sklearn.neural_network import MLPRegressor
from sklearn.utils import Bunch

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.baselines import RobustNetRegressor

SECTION, SMALL = "regimes", "small_clean"
SIZES = (20, 50, 200, 1_000, 10_000, 100_000)
RATES = (0.0, 0.2, 0.4)
QUICK_SIZES, QUICK_RATES = (20, 200), (0.0, 0.4)
SMALL_SIZES, QUICK_SMALL_SIZES = (10, 20, 30, 50), (10, 20)
SMALL_TABLES, SMALL_STATES = 5, 5
QUICK_SMALL_STATES = 2
#: ``--quick``'s ``max_epochs`` (at the defaults the quick run took 77 s).
QUICK_MAX_EPOCHS: int | None = 20
METHODS = {"linear": ("deepgum", "mlp", "tukey", "oracle", "ols")}
METHODS["tabular"] = METHODS["linear"][:-1]
#: Targets: ratio to the oracle at 20/40 %, to mlp at 0 %, from this n on.
ORACLE_RATIO, MLP_RATIO, ACCURACY_MIN_N = 1.25, 1.05, 50
SPEED_MIN_N, MAX_FLAGGED_SMALL = 10_000, 1
CSV_MAX_ROWS = 50
#: The RMSE ratios tabulated beside each law's methods.
PAIRS = (("deepgum", "oracle"), ("tukey", "oracle"), ("deepgum", "mlp"))
RUN_ID = uuid.uuid4().hex[:8]


@dataclass(frozen=True)
class Settings:
    """Sizes of one run mode."""

    quick: bool
    sizes: tuple[int, ...]
    rates: tuple[float, ...]
    seeds: tuple[int, ...]
    small_sizes: tuple[int, ...]
    small_tables: tuple[int, ...]
    small_states: tuple[int, ...]
    max_epochs: int | None  # None: the estimators' defaults
    threads: int


def make_settings(args) -> Settings:
    """Turn the parsed command line into :class:`Settings`."""
    q = args.quick
    return Settings(
        quick=q,
        sizes=tuple(n for n in (QUICK_SIZES if q else SIZES) if n <= args.max_n),
        rates=QUICK_RATES if q else RATES,
        seeds=tuple(range(args.seeds or (1 if q else 3))),
        small_sizes=QUICK_SMALL_SIZES if q else SMALL_SIZES,
        small_tables=(0,) if q else tuple(range(SMALL_TABLES)),
        small_states=tuple(range(QUICK_SMALL_STATES if q else SMALL_STATES)),
        max_epochs=QUICK_MAX_EPOCHS if q else None,
        threads=args.threads,
    )


def make_estimator(method: str, law: str, seed: int, settings: Settings):
    """Unfitted estimator at its defaults (seeded; linear backbone on 'linear')."""
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


def detection(model, mask: np.ndarray) -> dict:
    """Rows flagged by a fitted DeepGUMRegressor, against the true mask."""
    flags = np.asarray(model.outliers_, dtype=bool).ravel()
    return {
        "n_flagged": int(flags.sum()),
        "flagged_rows": [int(i) for i in np.flatnonzero(flags)],
        "false_positives": int((flags & ~mask).sum()),
        "true_positives": int((flags & mask).sum()),
        "n_outliers": int(mask.sum()),
        "auc": auc_or_nan(mask, model.outlier_scores_),
    }


_WARMED: list[float] = []  # seconds of the warm-up, once it has run


def fit_cell(method: str, law: str, data: Bunch, test: Bunch, seed, settings) -> dict:
    """Fit one method on one draw (after the run's :func:`warm_up`); score it."""
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
    """Seconds of an untimed 2-epoch fit of each model on 50 rows."""
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


def fingerprint(s: Settings) -> str:
    """Cache fingerprint: the package, the cells' code, the mode and the laws."""
    cells = (make_estimator, fit_timed, detection, fit_cell, rmse, auc_or_nan)
    cells += (_laws.linear_law, _laws.linear_box, _laws.linear_spread, _laws.draw)
    cells += (_laws.tabular, _laws.tabular_test, _laws.clean_test_set)
    identity = {"bench": "regimes", "quick": s.quick, "max_epochs": s.max_epochs}
    identity |= {
        "threads": s.threads,
        "linear": [_laws.LINEAR_BETA, _laws.LINEAR_INTERCEPT, _laws.LINEAR_NOISE],
        "box": _laws.LINEAR_BOX_SPREADS,
        "tabular": _laws.TABULAR_LAW,
        "test": [TEST_SEED, TEST_ROWS],
    }
    return code_fingerprint(identity, cells)


def run_regimes(settings: Settings, cache: CellCache) -> list[dict]:
    """Every (n, law, rate, seed, method) cell, in that order."""
    rows = []
    tests = {law: clean_test_set(law) for law in LAWS}
    grid = product(settings.sizes, LAWS, settings.rates, settings.seeds)
    for n, law, rate, seed in grid:
        task, data = f"{law}_n{n}", None
        # deepgum and mlp are timed back to back: both or neither cached.
        pair = [CellCache.key(SECTION, task, m, rate, seed) for m in ("deepgum", "mlp")]
        if sum(k in cache.records for k in pair) == 1:
            for k in pair:
                cache.records.pop(k, None)
        for method in METHODS[law]:
            key = CellCache.key(SECTION, task, method, rate, seed)
            if data is None and key not in cache.records:
                data = draw(law, n, rate, seed)
            args = (method, law, data, tests[law], seed, settings)
            compute = partial(fit_cell, *args)
            row = run_cell(cache, SECTION, task, method, rate, seed, compute)
            rows.append({**row, "law": law, "n": n})
    return rows


def run_small_clean(settings: Settings, cache: CellCache) -> list[dict]:
    """DeepGUM on tiny clean tables (cache task: data seed; seed: random state)."""
    rows = []
    test = clean_test_set("linear")
    for n, table in product(settings.small_sizes, settings.small_tables):
        data = linear_law(n, 0.0, table)
        for state in settings.small_states:
            compute = partial(
                fit_cell, "deepgum", "linear", data, test, state, settings
            )
            task = f"linear_n{n}_data{table}"
            row = run_cell(cache, SMALL, task, "deepgum", 0.0, state, compute)
            rows.append({**row, "law": "linear", "n": n, "table": table})
    return rows


def per_seed_ratios(rows, metric, method, reference, **where) -> list[float]:
    """``metric`` of ``method`` / that of ``reference``, seed by seed."""
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


def accuracy_context(rows, where: dict, reference: str) -> str:
    """The ratio per seed, the other methods' ratios and DeepGUM's flags."""
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
        f"per seed {' / '.join(fmt(v, 3) for v in seeds)}; against the same "
        f"{reference}: {', '.join(others)}; DeepGUM flags {fmt(false_pos, 3)} clean "
        f"rows and misses {fmt(outliers - found, 3)} of {fmt(outliers, 3)} outliers "
        "(means)"
    )


def speed_context(rows, where: dict) -> str:
    """Where MLPRegressor stopped, and at what error against DeepGUM's."""
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


def _targets(settings: Settings, min_n: int):
    """(law, n, rate, where) of every regimes cell with n >= ``min_n``."""
    sizes = [n for n in settings.sizes if n >= min_n]
    for law, n, rate in product(LAWS, sizes, settings.rates):
        yield law, n, rate, {"section": SECTION, "law": law, "n": n, "rate": rate}


def accuracy_checks(rows, settings: Settings) -> list[dict]:
    """RMSE targets per law, n >= 50 and rate (means over seeds)."""
    out, q = [], settings.quick
    for law, n, rate, where in _targets(settings, ACCURACY_MIN_N):
        gum = mean_of(rows, "rmse", method="deepgum", **where)
        ref_method, bound = ("oracle", ORACLE_RATIO) if rate else ("mlp", MLP_RATIO)
        ref = mean_of(rows, "rmse", method=ref_method, **where)
        r = ratio(gum, ref)
        name = f"accuracy {law} n={n} rate={rate:g}"
        target = f"RMSE(deepgum) / RMSE({ref_method}) <= {bound}"
        detail = f"deepgum {fmt(gum)} vs {ref_method} {fmt(ref)}"
        ctx = accuracy_context(rows, where, ref_method)
        ok = None if math.isnan(r) else r <= bound
        out.append(check(name, fmt(r, 3), target, ok, detail, quick=q, context=ctx))
    return out


def speed_checks(rows, settings: Settings) -> list[dict]:
    """Fit-time target per law, n >= 1e4 and rate (means over seeds)."""
    out, q = [], settings.quick
    target = "fit s(deepgum) / fit s(mlp) <= 1"
    for law, n, rate, where in _targets(settings, SPEED_MIN_N):
        gum = mean_of(rows, "fit_seconds", method="deepgum", **where)
        mlp = mean_of(rows, "fit_seconds", method="mlp", **where)
        r = ratio(gum, mlp)
        name = f"speed {law} n={n} rate={rate:g}"
        detail = f"deepgum {fmt(gum, 3)} s vs mlp {fmt(mlp, 3)} s"
        ok = None if math.isnan(r) else r <= 1.0
        ctx = speed_context(rows, where)
        out.append(check(name, fmt(r, 3), target, ok, detail, quick=q, context=ctx))
    if not out:
        detail = f"no n >= {SPEED_MIN_N} in this run"
        out.append(check("speed at n >= 1e4", "n/a", target, None, detail))
    return out


def small_tables(rows) -> list[dict]:
    """Per small_clean table: flagged counts per random state and stability."""
    out = []
    small = [r for r in rows if r["section"] == SMALL]
    for n, table in sorted({(r["n"], r["table"]) for r in small}):
        fits = sorted(
            (r for r in small if (r["n"], r["table"]) == (n, table)),
            key=lambda r: r["seed"],
        )
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
    out, q = [], settings.quick
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
        all_raised = errors == len(mine) * len(settings.small_states)
        name = f"small_clean n={n}: rows flagged per fit"
        target = f"<= {MAX_FLAGGED_SMALL} in every fit"
        ok = None if all_raised else (worst <= MAX_FLAGGED_SMALL and errors == 0)
        detail = f"{over} of {fits} fits over; {errors} fit(s) raised"
        ctx = "; ".join(overflown)
        out.append(
            check(name, f"max {worst}", target, ok, detail, quick=q, context=ctx)
        )
        same = sum(t["identical"] for t in mine)
        name = f"small_clean n={n}: same flagged set across random states"
        value = f"{same}/{len(mine)} tables"
        detail = f"{len(settings.small_states)} random states per table"
        ctx, target = "; ".join(unstable), "identical on every table"
        ok = same == len(mine)
        out.append(check(name, value, target, ok, detail, quick=q, context=ctx))
    return out


def regimes_tables(rows, settings: Settings) -> list[str]:
    """Per law: RMSE, detection and fit-time tables (mean ± std over seeds)."""
    lines = []
    flags = ("n_flagged", "false_positives", "true_positives")
    for law in LAWS:
        methods, acc, det, cost = METHODS[law], [], [], []
        for n, rate in product(settings.sizes, settings.rates):
            where = {"section": SECTION, "law": law, "n": n, "rate": rate}

            def m(metric, method, where=where):
                return mean_of(rows, metric, method=method, **where)

            def pm_(metric, method, digits=4, where=where):
                return pm(rows, metric, digits, method=method, **where)

            head = (n, f"{rate:g}")
            ratios = [fmt(ratio(m("rmse", a), m("rmse", b)), 3) for a, b in PAIRS]
            acc.append((*head, *(pm_("rmse", k) for k in methods), *ratios))
            det.append((*head, fmt(m("n_outliers", "deepgum"), 4)))
            det[-1] += (*(pm_(k, "deepgum") for k in flags), pm_("auc", "deepgum", 3))
            seconds = ratio(m("fit_seconds", "deepgum"), m("fit_seconds", "mlp"))
            cost.append((*head, *(pm_("fit_seconds", k, 3) for k in methods)))
            cost[-1] += (fmt(seconds, 3), fmt(m("n_iter", "deepgum"), 4))
            cost[-1] += (fmt(m("n_iter", "mlp"), 4),)
        ratio_heads = ("deepgum/oracle", "tukey/oracle", "deepgum/mlp")
        lines += [f"### {law}: clean-test RMSE (mean ± std over seeds)", ""]
        lines += md_table(("n", "rate", *methods, *ratio_heads), acc)
        lines += ["", f"### {law}: DeepGUM's flags (mean ± std over seeds)", ""]
        head = "n | rate | true outliers | flagged | false positives | true positives"
        lines += md_table(head + " | AUC", det)
        title = f"### {law}: fit seconds (mean ± std; deepgum then mlp back to back)"
        lines += ["", title, ""]
        cost_heads = ("deepgum/mlp", "deepgum epochs", "mlp iterations")
        lines += [*md_table(("n", "rate", *methods, *cost_heads), cost), ""]
    return lines


def small_lines(tables: list[dict]) -> list[str]:
    """The small_clean table: one row per (n, data seed)."""
    rows = []
    for t in tables:
        sets = sorted(t["sets"])
        shown = "; ".join(str(list(s)) for s in sets[:3])
        shown += " ..." if len(sets) > 3 else ""
        flagged = " ".join(str(f) for f in t["flagged"])
        same = "yes" if t["identical"] else "no"
        rows.append((t["n"], t["table"], flagged, same, shown or "n/a"))
    head = "n | data seed | rows flagged per random state | same set | flagged set(s)"
    title = "### small_clean: DeepGUM (linear backbone) on clean linear tables"
    return [title, "", *md_table(head, rows), ""]


def header_lines(command, env, settings: Settings, fp, cache) -> list[str]:
    """Command, mode, laws, environment, defaults and cache state."""
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
    before = [
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
    ]
    after = [
        f"- torch threads (--threads): {settings.threads}",
        "",
        "Estimator defaults measured:",
        "",
        *defaults_lines(DeepGUMRegressor(), RobustNetRegressor()),
        f"- MLPRegressor defaults: {MLPRegressor().get_params()}",
        "",
        f"Cache: fingerprint `{fp}`; {cache.counts()}.",
        "",
    ]
    title = "bench_regimes results"
    return report_header(title, command, mode, env, before_env=before, after_env=after)


def write_plot(rows, settings: Settings, path) -> None:
    """RMSE / oracle's and fit time / mlp's against n, per law and rate."""
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    shape = {"figsize": (5 * len(LAWS), 7), "squeeze": False}
    fig, axes = pyplot().subplots(2, len(LAWS), **shape)
    colours = dict(zip(RATES, ("tab:blue", "tab:orange", "tab:red"), strict=True))
    sizes = settings.sizes
    for col, law in enumerate(LAWS):
        for row_i, (metric, den) in enumerate(
            (("rmse", "oracle"), ("fit_seconds", "mlp"))
        ):
            ax = axes[row_i][col]
            for rate, (method, style) in product(
                settings.rates, (("deepgum", "-"), ("tukey", "--"))
            ):
                where = {"section": SECTION, "law": law, "rate": rate}
                values = [
                    ratio(
                        mean_of(rows, metric, n=n, method=method, **where),
                        mean_of(rows, metric, n=n, method=den, **where),
                    )
                    for n in sizes
                ]
                colour, label = colours.get(rate, "black"), f"{method} rate={rate:g}"
                ax.plot(sizes, values, style, marker="o", color=colour, label=label)
            accuracy = metric == "rmse"
            ax.axhline(ORACLE_RATIO if accuracy else 1.0, color="grey", lw=0.8)
            ax.set(xscale="log", yscale="log", xlabel="training rows n")
            ax.set_xticks(sizes, [f"{n:g}" for n in sizes])
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.yaxis.set_major_formatter(ScalarFormatter())
            ax.yaxis.set_minor_formatter(NullFormatter())
            ax.set_ylabel("RMSE / RMSE(oracle)" if accuracy else "fit s / fit s(mlp)")
            ax.set_title(f"{law}: {'accuracy' if accuracy else 'fit time'}")
        axes[0][col].legend(fontsize=7)
    mode = "quick" if settings.quick else "full"
    seeds = len(settings.seeds)
    fig.suptitle(f"bench_regimes ({mode}, {seeds} seed(s), means over seeds)")
    save_figure(fig, path, dpi=110)


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
    parser = cached_parser(__doc__, "< 30 s", full="the full run (default)")
    parser.add_argument("--max-n", type=int, default=max(SIZES), help="largest n")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1)")
    args = parse_cached(parser, argv, HERE / "results" / "regimes")
    if args.threads < 1:
        parser.error("--threads must be >= 1")
    return args


def main(argv=None) -> int:
    """Run both sections, print and write the report."""
    start = time.perf_counter()
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    settings = make_settings(args)
    fp = fingerprint(settings)
    command, cache, env = start_run(argv, "bench_regimes.py", args, fp)

    def regimes() -> Section:
        rows = run_regimes(settings, cache)
        lines = ["## regimes", "", *regimes_tables(rows, settings)]
        return Section(
            rows, lines, accuracy_checks(rows, settings) + speed_checks(rows, settings)
        )

    def small_clean() -> Section:
        rows = run_small_clean(settings, cache)
        tables = small_tables(rows)
        lines = ["## small_clean", "", *small_lines(tables)]
        return Section(rows, lines, small_checks(tables, settings))

    results, run = run_sections({SECTION: regimes, SMALL: small_clean})
    summary = summary_lines(run.checks, settings.quick, run.rows, where_we_lose=True)
    report = [*header_lines(command, env, settings, fp, cache), *run.lines, *summary]
    report += ["", f"Load average at the end: {load_average()}"]
    print("\n".join(summary))
    plot = partial(write_plot, results[SECTION].rows, settings)
    write_results(
        args.out, report, csv_rows(run.rows), cache, start, [("regimes", plot)]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
