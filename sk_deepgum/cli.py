"""The ``sk-deepgum`` command line."""

from __future__ import annotations

import argparse
import sys

import numpy as np


def _demo(args: argparse.Namespace) -> int:
    from sk_deepgum import GaussianUniformMixture

    rng = np.random.default_rng(args.seed)
    n, outlier_share = 20_000, 0.3
    is_outlier = rng.uniform(size=n) < outlier_share
    # Residuals of a 2-output regressor: Gaussian noise, plus 30 % wrong targets whose
    # residuals are spread uniformly over a wide box.
    residuals = rng.normal(0.0, [1.0, 0.5], size=(n, 2))
    residuals[is_outlier] = rng.uniform(-15, 15, size=(int(is_outlier.sum()), 2))
    gum = GaussianUniformMixture().fit(residuals)
    flagged = gum.predict(residuals).astype(bool)
    true_pos = np.sum(flagged & is_outlier)
    print("GaussianUniformMixture on 20 000 contaminated 2-D residuals")
    print(f"  true inlier share   : {1 - is_outlier.mean():.3f}")
    print(f"  learnt inlier prior : {gum.weights_[0]:.3f}")
    print(f"  inlier std (true 1.0, 0.5): {np.sqrt(gum.covariances_).round(3)}")
    print(
        f"  outliers flagged: {flagged.sum()} (true {is_outlier.sum()}), "
        f"precision {true_pos / max(flagged.sum(), 1):.3f}, "
        f"recall {true_pos / is_outlier.sum():.3f}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="sk-deepgum", description="Deep robust regression with DeepGUM."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="Fit on an embedded contaminated dataset.")
    demo.add_argument("--seed", type=int, default=0, help="Random seed (default 0).")
    demo.set_defaults(func=_demo)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
