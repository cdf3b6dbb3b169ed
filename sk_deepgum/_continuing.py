"""Continuing a fitted network estimator: ``warm_start`` and ``partial_fit``.

A continued fit trains the fitted network further, in the scaled target units of
its first fit: :func:`check_continuation` refuses another layout,
:func:`carry_over` starts a new net from the fitted one's weights and optimizer
moments (``warm_start``), :func:`chunk_state` wraps a ``partial_fit`` chunk around
a copy of the fitted net, and :func:`continued_counters` counts ``n_iter_`` and
``history_`` on from the fitted model.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from sk_deepgum._data import fit_tensors
from sk_deepgum._training import FitState, SkorchNet


def check_continuation(estimator, what: str, X, n_outputs: int, seen: dict) -> None:
    """Raise ValueError unless ``X`` and ``n_outputs`` have the layout the fitted
    network of ``estimator`` was built for (``what``: the caller's name, for the
    message); ``seen`` holds the new data's ``feature_names_in_``, if any."""
    if X.shape[1] != estimator.n_features_in_:
        # sklearn's wording (check_n_features_in_after_fitting expects it).
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is "
            f"expecting {estimator.n_features_in_} features as input: {what} "
            "continues the fitted network."
        )
    if tuple(X.shape[1:]) != tuple(estimator.input_shape_) or n_outputs != (
        estimator.n_outputs_
    ):
        raise ValueError(
            f"{what} continues the fitted network, built for inputs of shape "
            f"{tuple(estimator.input_shape_)} and {estimator.n_outputs_} output(s); "
            f"got {tuple(X.shape[1:])} and {n_outputs}. Fit a new model for new "
            "shapes (warm_start=False)."
        )
    old_names = getattr(estimator, "feature_names_in_", None)
    new_names = seen.get("feature_names_in_")
    if old_names is not None and (
        new_names is None or list(new_names) != list(old_names)
    ):
        raise ValueError(
            f"{what}: the feature names differ from those of the fitted model "
            f"({list(old_names)})."
        )


def carry_over(net: SkorchNet, previous_net: SkorchNet) -> None:
    """Start ``net`` from ``previous_net``'s weights, optimizer moments and
    per-epoch history.

    The optimizer's hyperparameters (``lr``, ``optimizer__*``) stay ``net``'s, so
    that a fine-tuning fit can lower the learning rate; its state (e.g. Adam's
    moment estimates and step count) is carried over when the optimizer class is
    the same, and starts afresh otherwise. skorch's ``History`` goes on as in a
    warm-started skorch net: the new epochs are appended, numbered on.
    """
    try:
        net.module_.load_state_dict(previous_net.module_.state_dict())
    except RuntimeError as exc:
        raise ValueError(
            "warm_start continues the fitted network, but the backbone built now "
            f"does not take its weights (module or module__* changed?): {exc}"
        ) from exc
    if type(net.optimizer_) is type(previous_net.optimizer_):
        saved = copy.deepcopy(previous_net.optimizer_.state_dict())
        saved["param_groups"] = net.optimizer_.state_dict()["param_groups"]
        net.optimizer_.load_state_dict(saved)
    net.history = copy.deepcopy(previous_net.history)


def chunk_state(
    estimator,
    X,
    y_scaled: np.ndarray,
    target_scale: np.ndarray,
    sample_weight: np.ndarray | None,
    device: torch.device,
) -> FitState:
    """A FitState over a ``partial_fit`` chunk around a copy of the fitted net (the
    fitted model stays intact if the call fails), with its optimizer at the
    estimator's current ``lr`` and ``optimizer__*``: they may have changed since
    the last call."""
    net = copy.deepcopy(estimator.net_)
    optimizer = net.optimizer_
    if type(optimizer) is not estimator.optimizer:
        raise ValueError(
            f"partial_fit continues the fitted {type(optimizer).__name__} "
            f"optimizer; optimizer is now {estimator.optimizer.__name__}. Call fit "
            "to start again with it."
        )
    hyperparameters = {"lr": estimator.lr, **estimator._optimizer_kwargs()}
    for group in optimizer.param_groups:
        if "weight_decay" in group:
            # _optimizer_kwargs leaves out a zero weight decay.
            group["weight_decay"] = hyperparameters.get("weight_decay", 0.0)
        group.update(hyperparameters)
    X_t, y_t, w_t = fit_tensors(X, y_scaled, sample_weight, device)
    base_weights = torch.ones_like(y_t) if w_t is None else w_t[:, None].expand_as(y_t)
    net.criterion_.take_rows(base_weights)
    return FitState(net, X_t, y_t, w_t, None, None, None, device, target_scale, None)


def continued_counters(state: FitState, previous) -> dict:
    """``n_iter_`` and ``history_`` of the fit in ``state``; a continued fit (from
    the fitted estimator ``previous``) adds to those of the model it continued,
    its records' epochs counted on from there."""
    if previous is None:
        return {"n_iter_": state.epochs_run, "history_": state.history}
    offset = previous.n_iter_
    records = [{**r, "epoch": r["epoch"] + offset} for r in state.history]
    return {
        "n_iter_": offset + state.epochs_run,
        "history_": [*copy.deepcopy(previous.history_), *records],
    }
