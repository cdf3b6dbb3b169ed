"""Ablation on small data: the step floor, the warm-up, the inlier law and the prior.

On a law of ``_laws.py`` (linear: linear backbone), by default the tabular law at
n = 200, rates 0 and 0.4, seeds 0-2, prints for each variant of
``DeepGUMRegressor(random_state=seed, **variant)`` the clean-test RMSE relative to
the oracle (``RobustNetRegressor(loss='l2')`` on the clean rows), per seed and on
average, and the false positives / missed outliers. Variants (:data:`VARIANTS`):
the defaults; ``min_rows_per_epoch=0`` (the oracle too); ``warm_up_epochs`` 1, 20,
50; ``inlier_df=None`` and 3; no prior; ten times the weight decay; three times the
learning rate; Tukey and Huber warm-ups. It measures the trade-off the defaults
leave open at this size (issue 14): a short L2 warm-up leaves clean rows unfitted
and the EM flags them, a long one lets the network fit the outliers.

Usage: ``OMP_NUM_THREADS=1 python benchmarks/ablation_small_n.py [--law tabular]
[--n 200] [--rates 0 0.4] [--variants NAME ...]`` (about 5 minutes on one core).
The user guide quotes ``--rates 0 0.2 0.4``, ``--law linear --n 20 50 --rates
0.4`` and ``--n 200 50 --rates 0 0.2 0.4 --variants default "tukey warm-up 5"
"tukey warm-up 20" "huber warm-up 20"``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _common import rmse
from _laws import clean_test_set, draw

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.baselines import RobustNetRegressor

SEEDS = (0, 1, 2)
VARIANTS = {
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


def clean_rmse(model, test) -> float:
    return rmse(np.ravel(model.predict(test.X)), np.ravel(test.y_noiseless))


def run(law: str, n: int, rate: float, test, variants: dict) -> None:
    draws = [draw(law, n, rate, seed) for seed in SEEDS]
    # The linear law's backbone in bench_regimes: one Linear layer.
    net = {"module__hidden_layer_sizes": ()} if law == "linear" else {}
    oracles = {}
    for name, variant in variants.items():
        # The oracle gets the variant's step budget (min_rows_per_epoch).
        floor = variant.get("min_rows_per_epoch", 1000)
        if floor not in oracles:
            oracles[floor] = [
                clean_rmse(
                    RobustNetRegressor(
                        loss="l2", min_rows_per_epoch=floor, random_state=seed, **net
                    ).fit(d.X[~d.outlier_mask], d.y[~d.outlier_mask]),
                    test,
                )
                for seed, d in zip(SEEDS, draws, strict=True)
            ]
        ratios, errors, false_pos, missed = [], [], [], []
        for seed, d, oracle in zip(SEEDS, draws, oracles[floor], strict=True):
            model = DeepGUMRegressor(random_state=seed, **net, **variant)
            model.fit(d.X, d.y)
            flags = np.ravel(model.outliers_)
            errors.append(clean_rmse(model, test))
            ratios.append(errors[-1] / oracle)
            false_pos.append(int((flags & ~d.outlier_mask).sum()))
            missed.append(int((~flags & d.outlier_mask).sum()))
        print(
            f"{law} n={n} rate={rate:g} {name:20s} deepgum/oracle {np.mean(ratios):.2f} "
            f"(per seed {np.round(ratios, 2).tolist()}; RMSE "
            f"{np.round(errors, 3).tolist()} vs oracle "
            f"{np.round(oracles[floor], 3).tolist()}), false positives {false_pos}, "
            f"missed outliers {missed}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--law", choices=("tabular", "linear"), default="tabular")
    parser.add_argument("--n", type=int, nargs="+", default=[200])
    parser.add_argument("--rates", type=float, nargs="+", default=[0.0, 0.4])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS)
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    test = clean_test_set(args.law)
    start = time.perf_counter()
    for n in args.n:
        for rate in args.rates:
            run(args.law, n, rate, test, {v: VARIANTS[v] for v in args.variants})
    print(f"wall time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
