"""A model read as the pictures see it: its fully connected layers, each a Linear or Neuron with the
activation after it (:class:`DenseLayer`), and one sample's z and a through them, computed by the engine.

``viz.network`` and ``viz.backprop`` draw what this module reads; neither looks inside a model by itself.
The layers themselves are :mod:`biograd.nn`'s; a committee is read as one of its members.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from biograd.tensor import Tensor, no_grad


@dataclass
class DenseLayer:
    """One fully connected layer as the pictures see it: z = x @ W^T + b, then a = activation(z)."""

    module: Any  # the Linear or Neuron
    activation: Any  # an activation module, or None (a = z)
    number: int  # 1, 2, ... in the network

    @property
    def is_neuron(self) -> bool:
        return self.module.weight.ndim == 1

    @property
    def weight(self) -> np.ndarray:
        """W as (out, in): row k holds neuron k's weights."""
        w = np.asarray(self.module.weight.data, dtype=np.float64)
        return w[None, :] if w.ndim == 1 else w

    @property
    def bias(self) -> np.ndarray:
        b = self.module.bias
        if b is None:
            return np.zeros(self.weight.shape[0])
        return np.asarray(b.data, dtype=np.float64).reshape(-1)

    @property
    def weight_grad(self) -> np.ndarray | None:
        g = self.module.weight.grad
        return None if g is None else np.asarray(g, dtype=np.float64).reshape(self.weight.shape)

    @property
    def bias_grad(self) -> np.ndarray | None:
        b = self.module.bias
        if b is None or b.grad is None:
            return None
        return np.asarray(b.grad, dtype=np.float64).reshape(-1)

    @property
    def activation_name(self) -> str:
        if self.activation is None or type(self.activation).__name__ == "Identity":
            return "no activation"
        return type(self.activation).__name__

    def pre_activation(self, x: Tensor) -> Tensor:
        """z = x @ W^T + b computed by the engine, exactly as the layer computes it."""
        if self.is_neuron:
            return x @ self.module.weight + self.module.bias
        return self.module(x)

    def activate(self, z: Tensor) -> Tensor:
        return z if self.activation is None else self.activation(z)


def one_network(model: Any, member: int = 0) -> tuple[Any, str]:
    """(the network to draw, a note on what it is). A :class:`~biograd.nn.Committee` has no single
    network: its member ``member`` is drawn, and the note says so; any other model is itself, no note."""
    from biograd.nn.committee import Committee

    if not isinstance(model, Committee):
        return model, ""
    members = model.members
    if not 0 <= member < len(members):
        raise ValueError(
            f"The 'member' parameter must be a member index in 0..{len(members) - 1} (the committee has "
            f"{len(members)} networks). Got {member} instead."
        )
    note = (
        f"Member {member + 1} of a committee of {len(members)} networks, which predicts with the average of "
        "its members' outputs; the other members have the same layers and other weights "
        "(draw one with member=)."
    )
    return members[member], note


def input_steps(model: Any) -> tuple[list[Any], list[Any]]:
    """(the leading Standardize / SelectFeatures layers of a Sequential, the layers after them): the
    fixed input scaling and gene selection a committee member carries, which have no weights to draw."""
    from biograd.nn.committee import SelectFeatures
    from biograd.nn.layers import Sequential, Standardize

    modules = list(model) if isinstance(model, Sequential) else [model]
    n = 0
    while n < len(modules) and isinstance(modules[n], (Standardize, SelectFeatures)):
        n += 1
    return modules[:n], modules[n:]


def dense_layers(model: Any) -> list[DenseLayer]:
    """Split a Neuron, Linear, Sequential or MLP into fully connected layers with their activations.

    Dropout and Flatten are skipped (pictures show the network as it predicts), and so are leading
    Standardize / SelectFeatures layers (:func:`input_steps`): the first layer drawn then takes the
    selected, scaled features. Anything else raises a ValueError naming the layer.
    """
    from biograd.nn.activation import GELU, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
    from biograd.nn.layers import Dropout, Flatten, Linear, Neuron, Sequential

    activations = (GELU, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh)
    if isinstance(model, (Neuron, Linear)):
        modules = [model]
    elif isinstance(model, Sequential):
        modules = input_steps(model)[1]
    else:
        raise TypeError(
            "biograd.viz draws fully connected networks: a Neuron, a Linear layer, or a Sequential/MLP of "
            f"Linear layers and activations. Got {type(model).__name__}."
        )
    layers: list[DenseLayer] = []
    for position, module in enumerate(modules):
        if isinstance(module, (Linear, Neuron)):
            act = module.activation if isinstance(module, Neuron) else None
            layers.append(DenseLayer(module, act, len(layers) + 1))
        elif isinstance(module, activations):
            if not layers or layers[-1].activation is not None:
                raise ValueError(
                    f"Layer {position} ({type(module).__name__}) is an activation that does not follow a "
                    "Linear layer; biograd.viz draws Linear -> activation pairs."
                )
            layers[-1].activation = module
        elif isinstance(module, (Dropout, Flatten)):
            continue
        else:
            raise ValueError(
                f"Layer {position} of the model is a {type(module).__name__}, which biograd.viz cannot draw "
                "as neurons; it draws Linear/Neuron layers with activations (ReLU, Sigmoid, Tanh, ...)."
            )
    if not layers:
        raise ValueError("The model has no Linear or Neuron layer to draw.")
    for previous, layer in itertools.pairwise(layers):
        if previous.weight.shape[0] != layer.weight.shape[1]:
            raise ValueError(
                f"Layer {layer.number} expects {layer.weight.shape[1]} inputs but layer {previous.number} "
                f"has {previous.weight.shape[0]} outputs."
            )
    return layers


def one_sample(x: Any, n_in: int, dtype: Any) -> np.ndarray:
    """One sample as a (1, n_in) array, with an error in the user's terms otherwise."""
    arr = np.asarray(x.data if isinstance(x, Tensor) else x, dtype=dtype)
    if arr.ndim == 1 and arr.shape[0] == n_in:
        return arr[None, :]
    if arr.ndim == 2 and arr.shape == (1, n_in):
        return arr
    raise ValueError(
        f"x must be one sample with {n_in} features (shape ({n_in},) or (1, {n_in})); got shape {arr.shape}. "
        "Pick one row, e.g. x[0]."
    )


def forward_values(layers: list[DenseLayer], x: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(z, a) of every layer for one sample, computed by the engine without recording a graph."""
    out = []
    with no_grad():
        h = Tensor(x, dtype=layers[0].module.weight.dtype)
        for layer in layers:
            z = layer.pre_activation(h)
            h = layer.activate(z)
            out.append(
                (np.asarray(z.data, np.float64).reshape(-1), np.asarray(h.data, np.float64).reshape(-1))
            )
    return out
