"""Weights-only persistence of the network estimators (``save_params`` /
``load_params``).

A saved model is a directory of two files that can be read without running
untrusted code (no pickle anywhere):

``module.pt``
    The backbone's ``state_dict`` (tensors only, on the CPU), written by
    :func:`torch.save`; it loads with ``torch.load(path, weights_only=True)``.
``estimator.json``
    The estimator's class, the backbone's class name, the JSON-able parameters and
    every fitted attribute other than the network (target scaling, ``mixture_``,
    ``outlier_scores_``, ``n_features_in_``, ``input_shape_`` ...).

Values JSON cannot hold natively are tagged: ``{"__ndarray__": ..., "dtype": ...,
"shape": ...}`` for numpy arrays and scalars, ``{"__tuple__": [...]}``,
``{"__dict__": {...}}`` for dictionaries and ``{"__estimator__": name, ...}`` for the
few estimator classes that may appear as a fitted attribute (a whitelist: loading
never imports a class named in the file). Python's ``json`` writes a float as the
shortest string that reads back to the same double, so float64 and float32 values
round-trip exactly.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

FORMAT = "sk_deepgum.save_params"
FORMAT_VERSION = 1
MODULE_FILE = "module.pt"
ESTIMATOR_FILE = "estimator.json"


class UnsavableError(TypeError):
    """A value that the JSON format cannot represent (a class, a callable ...)."""


def qualified_name(cls: type) -> str:
    """``'package.module.ClassName'`` of a class."""
    return f"{cls.__module__}.{cls.__qualname__}"


def _nested_estimators() -> dict:
    # Imported here: the estimators' modules import this one.
    from sk_deepgum.mixture import GaussianUniformMixture

    return {qualified_name(GaussianUniformMixture): GaussianUniformMixture}


def _encode_array(array: np.ndarray) -> dict:
    kind = array.dtype.kind
    if kind == "O":
        items = array.ravel().tolist()
        if not all(isinstance(v, (str, bool, Integral, Real)) for v in items):
            raise UnsavableError("object arrays must hold only strings or numbers")
        data = [to_json(v) for v in items]
        return {"__ndarray__": data, "dtype": "object", "shape": list(array.shape)}
    if kind not in "biufU":
        raise UnsavableError(f"arrays of dtype {array.dtype} are not supported")
    return {
        "__ndarray__": array.ravel().tolist(),
        "dtype": array.dtype.str,
        "shape": list(array.shape),
    }


def to_json(value):
    """Encode ``value`` into JSON-able Python objects (raises UnsavableError)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic):
        return _encode_array(np.asarray(value))
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, np.ndarray):
        return _encode_array(value)
    if isinstance(value, tuple):
        return {"__tuple__": [to_json(v) for v in value]}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise UnsavableError("dictionaries must have string keys")
        return {"__dict__": {k: to_json(v) for k, v in value.items()}}
    name = qualified_name(type(value))
    if name in _nested_estimators():
        params = {k: to_json(v) for k, v in value.get_params(deep=False).items()}
        attributes = {
            k: to_json(v)
            for k, v in vars(value).items()
            if k.endswith("_") and not k.startswith("_") and k not in params
        }
        return {"__estimator__": name, "params": params, "attributes": attributes}
    raise UnsavableError(f"cannot store a {type(value).__name__} as JSON")


def _decode_array(spec: dict):
    dtype = object if spec["dtype"] == "object" else np.dtype(spec["dtype"])
    data = spec["__ndarray__"]
    if dtype is object:
        data = [from_json(v) for v in data]
    array = np.empty(len(data), dtype=dtype)
    array[:] = data
    array = array.reshape(spec["shape"])
    return array[()] if array.ndim == 0 else array


def from_json(value):
    """Inverse of :func:`to_json`."""
    if isinstance(value, list):
        return [from_json(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__ndarray__" in value:
        return _decode_array(value)
    if "__tuple__" in value:
        return tuple(from_json(v) for v in value["__tuple__"])
    if "__dict__" in value:
        return {k: from_json(v) for k, v in value["__dict__"].items()}
    if "__estimator__" in value:
        cls = _nested_estimators().get(value["__estimator__"])
        if cls is None:
            raise ValueError(
                f"The saved file names an estimator class {value['__estimator__']!r} "
                "that load_params does not rebuild."
            )
        estimator = cls(**{k: from_json(v) for k, v in value["params"].items()})
        for k, v in value["attributes"].items():
            setattr(estimator, k, from_json(v))
        return estimator
    raise ValueError(f"Unrecognised entry in the saved file: {sorted(value)}.")
