"""Check that a change preserves behaviour: the same fits give bitwise the same outputs.

A refactor must not change a single number. This script draws the data generators'
laws (toy faces with every outlier kind, the regression law with its Bayes
posterior) and fits a fixed set of models (GaussianUniformMixture over every
covariance type, inlier law, grouping and uniform box, with sample weights;
DeepGUMRegressor with and without groups, with a hold-out and with robust
warm-ups; RobustNetRegressor with each loss), on one thread, and stores their
predictions, scores and criteria in an ``.npz`` file. Run it once against the old
code and once against the new, then compare::

    git worktree add /tmp/old <old commit>
    PYTHONPATH=/tmp/old python tools/same_outputs.py dump /tmp/old.npz
    python tools/same_outputs.py dump /tmp/new.npz
    python tools/same_outputs.py compare /tmp/old.npz /tmp/new.npz

``compare`` exits with status 1 and names every output that differs.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch


def outputs() -> dict[str, np.ndarray]:
    """Every output of the fixed set of fits, by name."""
    from sk_deepgum import DeepGUMRegressor, GaussianUniformMixture
    from sk_deepgum.baselines import RobustNetRegressor
    from sk_deepgum.datasets import make_contaminated_regression, make_toy_faces

    torch.set_num_threads(1)
    out = {}
    for kind in ("uniform", "landmark", "swap", "shift"):
        faces = make_toy_faces(
            40,
            16,
            outlier_rate=0.3,
            outlier_kind=kind,
            random_state=1,
            return_details=True,
        )
        out.update(_arrays(faces, f"faces_{kind}"))
    for kind in ("uniform", "shift"):
        law = make_contaminated_regression(
            200,
            3,
            n_targets=2,
            outlier_kind=kind,
            outlier_rate=0.3,
            random_state=2,
            return_details=True,
        )
        out.update(_arrays(law, f"regression_{kind}"))
    rng = np.random.default_rng(0)
    scales = np.array([1.0, 2.0, 0.5, 3.0])
    residuals = np.concatenate(
        [rng.normal(size=(400, 4)) * scales, rng.uniform(-20, 20, size=(100, 4))]
    )
    weights = rng.uniform(0.5, 2, size=500)
    for cov in ("full", "diag", "spherical"):
        for df in (None, 5.0):
            for groups in (None, "each", [[0, 1], [2, 3]]):
                for uniform in ("moments", "range"):
                    gum = GaussianUniformMixture(
                        covariance_type=cov,
                        inlier_df=df,
                        groups=groups,
                        uniform=uniform,
                        fit_mean=cov != "spherical",
                    ).fit(residuals, sample_weight=weights)
                    key = f"gum_{cov}_{df}_{groups}_{uniform}"
                    out[key + "_proba"] = gum.predict_proba(residuals)
                    out[key + "_score"] = gum.score_samples(residuals)
                    out[key + "_bic"] = np.array([gum.bic(residuals)])
                    out.update(_mixture_attributes(gum, key))
                    out[key + "_sample"] = gum.set_params(random_state=0).sample(50)[0]
    from sk_deepgum.mixture import fit_gum, make_grouping

    XT = torch.as_tensor(residuals.T.copy())
    w = torch.as_tensor(weights)
    for cov in ("full", "diag", "spherical"):
        for df in (None, 5.0):
            for fit_mean in (False, True):
                result = fit_gum(
                    XT,
                    w,
                    make_grouping([[0, 1], [2, 3]]),
                    covariance_type=cov,
                    df=df,
                    fit_mean=fit_mean,
                    chunk_size=97,
                )
                key = f"fit_gum_chunked_{cov}_{df}_{fit_mean}"
                p = result.params
                covs = p.covariances
                out[key + "_cov"] = (
                    torch.cat([c.ravel() for c in covs])
                    if isinstance(covs, list)
                    else covs
                ).numpy()
                out[key + "_rest"] = torch.cat(
                    [p.inlier_prior, p.means, p.uniform_bounds.ravel()]
                ).numpy()
                out[key + "_bounds"] = np.asarray(result.lower_bounds)
    X, y, _ = make_contaminated_regression(
        300, 3, n_targets=2, outlier_rate=0.3, random_state=0
    )
    for groups in (None, "each"):
        model = DeepGUMRegressor(random_state=0, max_epochs=12, groups=groups)
        model.fit(X, y)
        out[f"deepgum_{groups}_pred"] = model.predict(X)
        out[f"deepgum_{groups}_scores"] = np.asarray(model.outlier_scores_)
    for cov in ("full", "diag", "spherical"):
        for groups in (None, "each", [[0, 1]]):
            model = DeepGUMRegressor(
                random_state=0,
                max_epochs=6,
                covariance_type=cov,
                groups=groups,
                precision_shrinkage=0.5,
            ).fit(X, y * np.array([1.0, 10.0]))
            key = f"deepgum_{cov}_{groups}"
            out[key + "_pred"] = model.predict(X)
            out[key + "_std"] = model.predict(X, return_std=True)[1]
            out[key + "_new_scores"] = model.score_outliers(X[:50], y[:50])
            out.update(_mixture_attributes(model.mixture_, key + "_mixture"))
    model = DeepGUMRegressor(
        random_state=1,
        max_epochs=12,
        validation_fraction=0.2,
        inlier_df=None,
        covariance_type="full",
    ).fit(X, y)
    out["deepgum_valid_pred"] = model.predict(X)
    for warm_up_loss in ("huber", "tukey"):
        model = DeepGUMRegressor(
            random_state=0, max_epochs=10, warm_up_loss=warm_up_loss
        ).fit(X, y)
        out[f"deepgum_warm_up_{warm_up_loss}_pred"] = model.predict(X)
    for loss in ("l2", "huber", "tukey"):
        net = RobustNetRegressor(loss=loss, random_state=0, max_epochs=8).fit(X, y)
        out[f"net_{loss}"] = net.predict(X)
    return out


def _mixture_attributes(gum, prefix: str) -> dict[str, np.ndarray]:
    """A fitted GaussianUniformMixture's public attributes, flattened."""
    out = {}
    for name in (
        "weights_",
        "means_",
        "covariances_",
        "uniform_log_density_",
        "uniform_bounds_",
        "lower_bounds_",
        "n_iter_",
        "converged_",
    ):
        value = getattr(gum, name)
        if isinstance(value, list) and value and np.ndim(value[0]) > 0:
            value = np.concatenate([np.ravel(v) for v in value])
        out[f"{prefix}_{name}"] = np.asarray(value, dtype=float)
    return out


def _arrays(bunch, prefix: str) -> dict[str, np.ndarray]:
    """The numeric arrays of a generator's ``return_details`` Bunch."""
    return {
        f"{prefix}_{key}": value
        for key, value in bunch.items()
        if isinstance(value, np.ndarray) and value.dtype != object
    }


def compare(old_path: str, new_path: str) -> int:
    """0 when both files hold the same names and bitwise-equal arrays, else 1."""
    old, new = np.load(old_path), np.load(new_path)
    if sorted(old.files) != sorted(new.files):
        print(f"different outputs: {sorted(set(old.files) ^ set(new.files))}")
        return 1
    differ = [
        k for k in old.files if not np.array_equal(old[k], new[k], equal_nan=True)
    ]
    print(f"{len(old.files)} outputs, {len(differ)} differ{': ' if differ else ''}")
    for name in differ:
        gap = np.max(np.abs(old[name] - new[name]))
        print(f"  {name}: max |difference| {gap:.3g}")
    return 1 if differ else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    dump = commands.add_parser("dump", help="fit the models, store their outputs")
    dump.add_argument("path")
    check = commands.add_parser("compare", help="compare two dumps bitwise")
    check.add_argument("old")
    check.add_argument("new")
    args = parser.parse_args(argv)
    if args.command == "compare":
        return compare(args.old, args.new)
    import sk_deepgum

    results = outputs()
    np.savez(args.path, **results)
    print(f"{len(results)} outputs of {sk_deepgum.__file__} written to {args.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
