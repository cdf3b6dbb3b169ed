"""The ``sk-deepgum`` command line."""

from __future__ import annotations

import argparse
import sys

import numpy as np


def _demo(args: argparse.Namespace) -> int:
    from sklearn.metrics import f1_score, roc_auc_score

    from sk_deepgum import DeepGUMRegressor
    from sk_deepgum.baselines import RobustNetRegressor
    from sk_deepgum.datasets import make_contaminated_regression

    # The embedded dataset: a published law (see make_contaminated_regression) with
    # 30 % of the targets replaced by uniform draws, and a clean test set.
    data = make_contaminated_regression(
        1000,
        5,
        outlier_rate=0.3,
        noise=0.1,
        random_state=args.seed,
        return_details=True,
    )
    X_test, y_test, _ = make_contaminated_regression(
        2000, 5, outlier_rate=0.0, noise=0.0, random_state=args.seed + 1
    )
    print(f"Data: {data.law}")
    verbose = 0 if args.quiet else 1
    gum = DeepGUMRegressor(random_state=args.seed, verbose=verbose).fit(data.X, data.y)
    l2 = RobustNetRegressor(random_state=args.seed, verbose=verbose).fit(data.X, data.y)

    def rmse(model):
        return float(np.sqrt(np.mean((model.predict(X_test) - y_test) ** 2)))

    truth = data.outlier_mask
    found = gum.outliers_
    print(f"\nOutliers: {truth.sum()} wrong targets among {len(truth)} rows")
    print(
        f"  DeepGUM flags {found.sum()}: {np.sum(found & truth)} correctly, "
        f"{np.sum(found & ~truth)} false alarms "
        f"(F1 {f1_score(truth, found):.3f}, ROC-AUC "
        f"{roc_auc_score(truth, gum.outlier_scores_):.3f}; "
        f"Bayes-optimal F1 {f1_score(truth, data.outlier_proba_bayes > 0.5):.3f})"
    )
    print(
        f"  learnt inlier share {gum.mixture_.weights_[0]:.3f} "
        f"(true {1 - truth.mean():.3f})"
    )
    print("\nError on a clean test set (RMSE against the true function):")
    print(f"  DeepGUM         {rmse(gum):.4f}")
    print(f"  plain L2 (same network, same epochs) {rmse(l2):.4f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="sk-deepgum", description="Deep robust regression with DeepGUM."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="Fit on an embedded contaminated dataset.")
    demo.add_argument("--seed", type=int, default=0, help="Random seed (default 0).")
    demo.add_argument("--quiet", action="store_true", help="No progress bars.")
    demo.set_defaults(func=_demo)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
