"""Ablation of ``inlier_pseudo_count``: DeepGUM with k pseudo-inlier rows vs k = 0.

Prints, for each k in ``--ks`` (default 0, 5, 10), the mean clean-test RMSE of
``DeepGUMRegressor(inlier_pseudo_count=k, random_state=seed)`` (every other
parameter at its default) and the rows it flags, on

- the tabular law ``make_contaminated_regression(n_samples=n, n_features=5,
  outlier_rate=rate, noise=0.1, random_state=seed)`` for n in {200, 1000}, rates
  0 / 0.2 / 0.4 / 0.6 (n = 200: 0.4 and 0.6 only), seeds 0-2 (n = 200: 2-5),
  clean test set of 2,000 noise-free rows (``random_state=999``);
- clean linear tables ``y = X @ (10, -8, 6) + 50 + N(0, 1.2^2)``, ``X ~ N(0, 1)^3``
  (``tests/regressor/test_small_data.py``'s law), n in {10, 20, 50}, table seeds 100-102,
  a linear backbone (``module__hidden_layer_sizes=()``) behind a StandardScaler,
  ``random_state`` 0-2 on each table: rows flagged per fit.

Usage: ``python benchmarks/ablation_pseudo_count.py [--ks 0 10] [--threads 1]``
(about 10 minutes on one core).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.datasets import make_contaminated_regression

TABULAR = {200: ((0.4, 0.6), (2, 3, 4, 5)), 1000: ((0.0, 0.2, 0.4, 0.6), (0, 1, 2))}


def tabular(k: int, test) -> None:
    for n, (rates, seeds) in TABULAR.items():
        for rate in rates:
            rmses, flagged = [], []
            for seed in seeds:
                X, y, _ = make_contaminated_regression(
                    n_samples=n,
                    n_features=5,
                    outlier_rate=rate,
                    noise=0.1,
                    random_state=seed,
                )
                model = DeepGUMRegressor(inlier_pseudo_count=k, random_state=seed)
                model.fit(X, y)
                rmses.append(np.sqrt(np.mean((model.predict(test[0]) - test[1]) ** 2)))
                flagged.append(int(model.outliers_.sum()))
            print(
                f"k={k:g} tabular n={n} rate={rate}: RMSE {np.mean(rmses):.3f} "
                f"(per seed {np.round(rmses, 3).tolist()}), flagged {flagged}",
                flush=True,
            )


def clean_tables(k: int) -> None:
    rng_coef = np.array([10.0, -8.0, 6.0])
    for n in (10, 20, 50):
        flagged = []
        for table in (100, 101, 102):
            rng = np.random.default_rng(table)
            X = rng.normal(size=(n, 3))
            y = X @ rng_coef + 50.0 + 1.2 * rng.normal(size=n)
            for seed in range(3):
                model = make_pipeline(
                    StandardScaler(),
                    DeepGUMRegressor(
                        module__hidden_layer_sizes=(),
                        inlier_pseudo_count=k,
                        random_state=seed,
                    ),
                )
                flagged.append(int(model.fit(X, y)[-1].outliers_.sum()))
        print(f"k={k:g} clean linear n={n}: rows flagged per fit {flagged}", flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--ks", type=float, nargs="+", default=[0, 5, 10])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    test = make_contaminated_regression(
        n_samples=2000, n_features=5, outlier_rate=0, noise=0, random_state=999
    )
    start = time.perf_counter()
    for k in args.ks:
        clean_tables(k)
        tabular(k, test)
    print(f"wall time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
