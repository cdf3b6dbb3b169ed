"""Ablation of ``batch_size='auto'``: fit time and accuracy at 10,000 rows.

On the tabular law of ``_laws.py`` (:func:`draw` and its clean test set) at
n = 10,000 with 20 % outliers, fits side by side, in one process and one torch
thread, ``DeepGUMRegressor(random_state=seed)`` with ``batch_size=32`` (the default
before ``'auto'``: about 31,300 optimiser steps) and with ``batch_size='auto'``
(313-row batches, 3,200 steps), and sklearn's ``MLPRegressor(random_state=seed)``
at its defaults, and prints each fit's seconds and clean-test RMSE. An untimed
2-epoch fit first pays torch's first-call costs.

Usage: ``OMP_NUM_THREADS=1 python benchmarks/ablation_batch_size.py [--seeds 0]
[--n 10000] [--rate 0.2]`` (about 90 s per seed on one core). The user guide,
*Training budget*, quotes its seed-0 run.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch
from _common import rmse
from _laws import clean_test_set, draw
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor

from sk_deepgum import DeepGUMRegressor

VARIANTS = {
    "deepgum batch_size=32": lambda seed: DeepGUMRegressor(
        batch_size=32, random_state=seed
    ),
    "deepgum batch_size='auto'": lambda seed: DeepGUMRegressor(random_state=seed),
    "MLPRegressor": lambda seed: MLPRegressor(random_state=seed),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=0.2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    test = clean_test_set("tabular")
    warm = draw("tabular", 50, 0.0, 0)
    DeepGUMRegressor(max_epochs=2, random_state=0).fit(warm.X, warm.y)
    for seed in args.seeds:
        data = draw("tabular", args.n, args.rate, seed)
        for name, make in VARIANTS.items():
            model = make(seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                start = time.perf_counter()
                model.fit(data.X, data.y)
                seconds = time.perf_counter() - start
            error = rmse(np.ravel(model.predict(test.X)), np.ravel(test.y_noiseless))
            batch = getattr(model, "batch_size_", "")
            print(
                f"n={args.n} rate={args.rate:g} seed={seed} {name:26s} "
                f"{seconds:6.1f} s  clean-test RMSE {error:.4f}  {batch}",
                flush=True,
            )


if __name__ == "__main__":
    main()
