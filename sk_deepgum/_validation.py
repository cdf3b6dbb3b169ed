"""Input checks and fitted-state helpers shared by the package's estimators."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.utils.validation import _check_sample_weight, validate_data

__all__ = [
    "MAD_TO_SD",
    "resolve_device",
    "as_tensor",
    "check_groups",
    "check_sample_weight",
    "check_uniform_bounds",
    "replace_fitted_state",
    "validate_fit_data",
]

#: 1 / Phi^{-1}(3/4): the median absolute deviation of a Gaussian times this is its
#: standard deviation.
MAD_TO_SD = 1.4826


def check_groups(groups, n_features: int) -> list[np.ndarray]:
    """Resolve the ``groups`` parameter into a partition of ``range(n_features)``.

    Parameters
    ----------
    groups : None, 'each' or list of lists of int
        None: one latent per row; 'each': one per column; otherwise one per listed
        group, which must together cover every column exactly once.
    n_features : int
        Number of columns to partition.

    Returns
    -------
    list of ndarray of int
        Column indices of every group.
    """
    if groups is None:
        return [np.arange(n_features)]
    if isinstance(groups, str):
        if groups != "each":
            raise ValueError(
                f"groups must be None, 'each' or a list of lists; got {groups!r}."
            )
        return [np.array([d]) for d in range(n_features)]
    try:
        resolved = [np.asarray(g) for g in groups]
    except TypeError as exc:
        raise TypeError(
            f"groups must be None, 'each' or a list of lists of column indices; "
            f"got {groups!r}."
        ) from exc
    for g, cols in enumerate(resolved):
        if cols.ndim != 1 or cols.size == 0:
            raise ValueError(f"groups[{g}] must be a non-empty list of column indices.")
        if not np.issubdtype(cols.dtype, np.integer):
            raise TypeError(
                f"groups[{g}] must hold integer column indices; got {cols!r}."
            )
    flat = np.concatenate(resolved)
    out_of_range = sorted({int(c) for c in flat if c < 0 or c >= n_features})
    if out_of_range:
        raise ValueError(
            f"groups name columns {out_of_range} but the data has {n_features} "
            f"column(s) (valid indices 0..{n_features - 1})."
        )
    counts = np.bincount(flat, minlength=n_features)
    repeated = np.flatnonzero(counts > 1).tolist()
    missing = np.flatnonzero(counts == 0).tolist()
    if repeated or missing:
        parts = []
        if missing:
            parts.append(f"columns {missing} are in no group")
        if repeated:
            parts.append(f"columns {repeated} appear more than once")
        raise ValueError(
            "groups must partition the columns (each exactly once): "
            + "; ".join(parts)
            + "."
        )
    return [cols.astype(np.int64) for cols in resolved]


def check_uniform_bounds(uniform, n_features: int) -> np.ndarray:
    """Validate user-given uniform bounds: finite, shape (D, 2), low < high."""
    bounds = np.asarray(uniform, dtype=np.float64)
    if bounds.shape != (n_features, 2):
        raise ValueError(
            f"uniform bounds must have shape (n_features, 2) = ({n_features}, 2); "
            f"got {bounds.shape}."
        )
    if not np.all(np.isfinite(bounds)):
        raise ValueError("uniform bounds must be finite.")
    bad = np.flatnonzero(bounds[:, 1] <= bounds[:, 0]).tolist()
    if bad:
        raise ValueError(f"uniform bounds need low < high; columns {bad} violate it.")
    return bounds


def check_sample_weight(sample_weight, X, dtype) -> np.ndarray:
    """``sample_weight`` as a float array of shape (n_samples,): non-negative, not all 0.

    scikit-learn's ``_check_sample_weight`` rejects all-zero weights only from 1.9
    on; with an older release such weights would reach the fit (the regressor's
    robust target scale has no row to take a median of). The message is
    scikit-learn's, so it reads the same whichever release raises it.
    """
    sample_weight = _check_sample_weight(
        sample_weight, X, dtype=dtype, ensure_non_negative=True
    )
    if not np.any(sample_weight):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return sample_weight


def validate_fit_data(estimator, *args, **kwargs):
    """``validate_data(estimator, ..., reset=True)`` that leaves ``estimator`` untouched.

    ``validate_data`` records ``n_features_in_`` and ``feature_names_in_`` on the
    estimator it is given, before any training. Recording them on a stand-in that
    holds only the estimator's parameters (same class, so the same tags and error
    messages) keeps a refit that fails or is interrupted from leaving the previous
    model with the new data's feature count.

    Returns
    -------
    validated : ndarray or tuple of ndarray
        What ``validate_data`` returns.
    seen : dict
        ``n_features_in_`` and, when ``X`` had string column names,
        ``feature_names_in_``: to assign together with the rest of the fitted state.
    """
    stand_in = object.__new__(type(estimator))
    stand_in.__dict__.update(
        {k: v for k, v in vars(estimator).items() if not k.endswith("_")}
    )
    validated = validate_data(stand_in, *args, reset=True, **kwargs)
    seen = {"n_features_in_": stand_in.n_features_in_}
    if hasattr(stand_in, "feature_names_in_"):
        seen["feature_names_in_"] = stand_in.feature_names_in_
    return validated, seen


def replace_fitted_state(estimator, attributes: dict) -> None:
    """Swap in a whole new fitted state at the end of ``fit``.

    Fitted attributes of a previous fit that the new one does not define (e.g.
    ``feature_names_in_`` after a refit on a plain array, ``group_outlier_scores_``
    after a refit without groups) are removed rather than left stale.
    """
    params = set(estimator.get_params(deep=False))
    stale = [
        name
        for name in vars(estimator)
        if name.endswith("_")
        and not name.startswith("_")
        and name not in params
        and name not in attributes
    ]
    for name in stale:
        delattr(estimator, name)
    for name, value in attributes.items():
        setattr(estimator, name, value)


def as_tensor(array: np.ndarray) -> torch.Tensor:
    """Tensor sharing memory with a C-contiguous array (copied only when it is not).

    Read-only arrays are shared too: nothing here writes into its inputs.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="The given NumPy array is not writable"
        )
        return torch.from_numpy(np.ascontiguousarray(array))


def resolve_device(device) -> torch.device:
    """Turn the ``device`` parameter into a concrete :class:`torch.device`.

    'auto' picks CUDA when available, else the CPU; asking for CUDA on a machine
    without it is a ValueError rather than torch's AssertionError deep in ``fit``.
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be 'cpu', 'cuda', 'cuda:N', 'auto' or a torch.device; "
            f"got {device!r}."
        ) from exc
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on this "
                "machine; use device='cpu' or device='auto'."
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r}: only {torch.cuda.device_count()} CUDA device(s)."
            )
    return resolved
