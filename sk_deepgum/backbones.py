"""Backbone networks, and the convention that lets any ``nn.Module`` plug in.

A backbone maps a batch of inputs to a ``(batch, n_outputs)`` tensor. When a module
*class* is given to an estimator, the data-dependent sizes are filled in for the
constructor arguments it declares and the user did not set:

- ``n_inputs``: number of features (``X.shape[1]``),
- ``input_shape``: shape of one sample (``X.shape[1:]``, e.g. ``(C, H, W)``),
- ``n_outputs``: number of targets.
"""

from __future__ import annotations

import copy
import inspect
import math

import torch
from torch import nn

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "elu": nn.ELU}


class MLP(nn.Module):
    """Fully connected network: ``Linear → activation`` blocks, then a linear head.

    Inputs of more than one dimension per sample are flattened.

    Parameters
    ----------
    n_inputs : int
        Number of input features (after flattening).
    n_outputs : int
        Number of regression targets.
    hidden_layer_sizes : tuple of int, default=(64, 64)
        Width of every hidden layer.
    activation : {'relu', 'tanh', 'gelu', 'elu'}, default='relu'
        Non-linearity between layers.
    dropout : float, default=0.0
        Dropout probability after every hidden activation.

    Examples
    --------
    >>> import torch
    >>> from sk_deepgum.backbones import MLP
    >>> MLP(n_inputs=3, n_outputs=2)(torch.zeros(5, 3)).shape
    torch.Size([5, 2])
    """

    def __init__(
        self,
        n_inputs: int,
        n_outputs: int,
        hidden_layer_sizes: tuple[int, ...] = (64, 64),
        activation: str = "relu",
        dropout: float = 0.0,
    ):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(_ACTIVATIONS)}; got {activation!r}."
            )
        layers: list[nn.Module] = [nn.Flatten()]
        width = n_inputs
        for size in hidden_layer_sizes:
            layers += [nn.Linear(width, size), _ACTIVATIONS[activation]()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, n_outputs))
        self.layers = nn.Sequential(*layers)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.layers(X)


class ConvNet(nn.Module):
    """Small ConvNet for (C, H, W) images: conv blocks, global pooling, MLP head.

    Each block is ``Conv3x3 → BatchNorm → ReLU → MaxPool2``.

    Parameters
    ----------
    input_shape : tuple of int
        Shape of one image, ``(C, H, W)``.
    n_outputs : int
        Number of regression targets.
    channels : tuple of int, default=(16, 32, 64)
        Output channels of every conv block.
    hidden : int, default=64
        Width of the hidden layer of the head.

    Examples
    --------
    >>> import torch
    >>> from sk_deepgum.backbones import ConvNet
    >>> ConvNet(input_shape=(1, 32, 32), n_outputs=4)(torch.zeros(2, 1, 32, 32)).shape
    torch.Size([2, 4])
    """

    def __init__(
        self,
        input_shape: tuple[int, ...],
        n_outputs: int,
        channels: tuple[int, ...] = (16, 32, 64),
        hidden: int = 64,
    ):
        super().__init__()
        if len(input_shape) != 3:
            raise ValueError(
                f"ConvNet expects images of shape (C, H, W); got input_shape={input_shape}."
            )
        blocks: list[nn.Module] = []
        in_channels = input_shape[0]
        for out_channels in channels:
            blocks += [
                nn.Conv2d(in_channels, out_channels, 3, padding=1),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            in_channels = out_channels
        self.features = nn.Sequential(*blocks)
        # Average pooling keeps the head's size independent of the image size.
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(in_channels, hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_outputs),
        )

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(X))


def build_module(
    module, module_kwargs: dict, input_shape: tuple[int, ...], n_outputs: int
) -> nn.Module:
    """Instantiate the backbone an estimator was given.

    Parameters
    ----------
    module : None, nn.Module subclass or nn.Module instance
        None builds an :class:`MLP`; a class is instantiated with ``module_kwargs``
        plus the data-dependent sizes it declares (see the module docstring); an
        instance is deep-copied so the user's object is never trained in place.
    module_kwargs : dict
        Constructor arguments (the estimator's ``module__*`` parameters, prefix
        removed).
    input_shape : tuple of int
        Shape of one sample.
    n_outputs : int
        Number of targets.

    Returns
    -------
    nn.Module
        The backbone, ready to train.
    """
    if isinstance(module, nn.Module):
        if module_kwargs:
            raise ValueError(
                "module__* arguments need a module class, not an instance; got "
                f"{sorted(module_kwargs)} with an instance of {type(module).__name__}."
            )
        return copy.deepcopy(module)
    if module is None:
        module = MLP
    if not (inspect.isclass(module) and issubclass(module, nn.Module)):
        raise TypeError(
            "module must be None, a torch.nn.Module subclass or an instance of one; "
            f"got {module!r}."
        )
    sizes = {
        "n_inputs": int(math.prod(input_shape)),
        "input_shape": tuple(input_shape),
        "n_outputs": n_outputs,
    }
    accepted = inspect.signature(module).parameters
    kwargs = {
        k: v for k, v in sizes.items() if k in accepted and k not in module_kwargs
    }
    kwargs.update(module_kwargs)
    try:
        return module(**kwargs)
    except TypeError as exc:
        raise TypeError(
            f"Could not build {module.__name__}(**{kwargs}): {exc}. Pass its "
            "constructor arguments as module__<name>=value."
        ) from exc
