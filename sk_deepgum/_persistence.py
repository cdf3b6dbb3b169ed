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

import json
import math
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import torch

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


def write_model(estimator, directory: Path, private_fitted: tuple) -> None:
    """Write a fitted network estimator to ``directory`` (created if needed):
    ``module.pt``, the backbone's CPU ``state_dict``, and ``estimator.json``, the
    JSON-able parameters (the others listed as unsaved), every fitted attribute but
    ``net_`` and the private fitted attributes named in ``private_fitted``.

    Raises TypeError naming a fitted attribute that JSON cannot hold.
    """
    params, unsaved = {}, []
    for name, value in estimator.get_params(deep=False).items():
        if name == "module":  # recorded as module_class; given again at load
            unsaved.append(name)
            continue
        try:
            params[name] = to_json(value)
        except UnsavableError:
            unsaved.append(name)
    attributes = {}
    for name, value in vars(estimator).items():
        fitted = name.endswith("_") and not name.startswith("_")
        if name == "net_" or name in params or name in unsaved:
            continue
        if fitted or name in private_fitted:
            try:
                attributes[name] = to_json(value)
            except UnsavableError as exc:
                raise TypeError(
                    f"Cannot save the fitted attribute {name!r}: {exc}."
                ) from exc
    from sk_deepgum import __version__

    module = estimator.net_.module_
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "sk_deepgum_version": __version__,
        "estimator": type(estimator).__name__,
        "module_class": qualified_name(type(module)),
        "params": params,
        "unsaved_params": unsaved,
        "attributes": attributes,
    }
    state_dict = {k: v.detach().cpu() for k, v in module.state_dict().items()}
    directory.mkdir(parents=True, exist_ok=True)
    torch.save(state_dict, directory / MODULE_FILE)
    with open(directory / ESTIMATOR_FILE, "w", encoding="utf-8") as f:
        json.dump(document, f)


def read_model(
    directory: Path, estimator_name: str, module_class: str
) -> tuple[dict, Path]:
    """The saved document of ``directory`` and the path of its weights, checked to
    be a model of the estimator class ``estimator_name`` with a backbone of the
    class ``module_class`` (qualified name).

    Raises FileNotFoundError when a file is missing, ValueError when the format,
    the estimator class or the backbone class differs.
    """
    json_file = directory / ESTIMATOR_FILE
    weights_file = directory / MODULE_FILE
    for file in (json_file, weights_file):
        if not file.is_file():
            raise FileNotFoundError(
                f"{file} not found: load_params expects the directory written "
                "by save_params."
            )
    with open(json_file, encoding="utf-8") as f:
        document = json.load(f)
    if (
        document.get("format") != FORMAT
        or document.get("format_version", math.inf) > FORMAT_VERSION
    ):
        raise ValueError(
            f"{json_file} is not a save_params file of a format this version "
            f"reads (format {document.get('format')!r}, version "
            f"{document.get('format_version')!r})."
        )
    if document["estimator"] != estimator_name:
        raise ValueError(
            f"{directory} holds a {document['estimator']}; it cannot be loaded "
            f"into a {estimator_name}."
        )
    saved_class = document["module_class"]
    if module_class != saved_class:
        raise ValueError(
            f"{directory} holds the weights of a {saved_class} backbone but this "
            f"estimator builds a {module_class}; construct it with the same module "
            "as the saved one."
        )
    return document, weights_file
