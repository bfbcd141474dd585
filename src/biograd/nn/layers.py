"""Neurons, layers and networks: y = activation(x·w^T + b), stacked.

- :class:`Neuron` is the notes' single neuron: one weight per input and one bias.
- :class:`Linear` is a layer of ``out_features`` such neurons side by side, computed at once as
  ``x @ W^T + b`` (row k of W holds neuron k's weights). Its activation is a separate module.
- :class:`Sequential` chains layers; :class:`MLP` builds the classic fully connected network from a list
  of layer sizes.
- :class:`Dropout` and :class:`Flatten` are the usual helpers.

Weights use PyTorch's layout and names, so ``state_dict()`` keys (``"0.weight"``, ``"0.bias"``) match an
equivalent ``torch.nn.Sequential`` and weights can be copied across.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from biograd import functional as F
from biograd.nn import init
from biograd.nn.activation import activation_name, activation_spec, fresh_copy, get_activation
from biograd.nn.module import Module, Parameter, from_config, register_layer, to_config
from biograd.tensor import Tensor
from biograd.tensor_functions import linear

_INITS = ("pytorch", "kaiming", "xavier")


def _check_positive_int(value: Any, name: str, owner: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"The '{name}' parameter of {owner} must be an int >= 1. Got {value!r} instead.")
    return int(value)


def _init_for(weight: Parameter, bias: Parameter | None, activation: Module) -> None:
    """He/Kaiming for the ReLU family, Xavier/Glorot otherwise; biases 0 (see ``init.for_activation_``)."""
    name = activation_name(activation)
    if name == "leaky_relu":
        init.kaiming_uniform_(weight, a=activation.negative_slope, nonlinearity="leaky_relu")
        if bias is not None:
            init.zeros_(bias)
    else:
        init.for_activation_(weight, bias, name)


@register_layer
class Neuron(Module):
    """One neuron: y = activation(x·w + b), the notes' building block.

    ``weight`` has shape (in_features,) (one weight per input) and ``bias`` is a single number (shape ()).
    For a batch x of shape (batch, in_features) the output has shape (batch,): one value per sample.

    Weights start He/Kaiming-uniform for ReLU-family activations and Xavier/Glorot-uniform otherwise
    (tanh, sigmoid, identity); the bias starts at 0. With ``activation="identity"`` the neuron is the line
    y = w x + b (slope w, intercept b) of the notes.

    >>> neuron = Neuron(3, activation="sigmoid")                  # doctest: +SKIP
    >>> neuron(biograd.tensor([[1.0, 2.0, 3.0]])).shape
    (1,)
    """

    def __init__(self, in_features: int, activation: str | Module | None = "relu") -> None:
        super().__init__()
        self.in_features = _check_positive_int(in_features, "in_features", "Neuron")
        self.activation = get_activation(activation)
        self.weight = Parameter(np.zeros(self.in_features, dtype=np.float32))
        self.bias = Parameter(np.zeros((), dtype=np.float32))
        _init_for(self.weight, self.bias, self.activation)

    def forward(self, x: Any) -> Tensor:
        if not isinstance(x, Tensor):  # numpy data (often float64) takes the neuron's dtype
            x = Tensor(x, dtype=self.weight.dtype)
        z = x @ self.weight + self.bias  # (batch, in) @ (in,) -> (batch,): the weighted sum plus bias
        return self.activation(z)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}"

    def get_config(self) -> dict[str, Any]:
        return {"in_features": self.in_features, "activation": activation_spec(self.activation)}


@register_layer
class Linear(Module):
    """A layer of ``out_features`` neurons, each seeing all ``in_features`` inputs: y = x @ W^T + b.

    ``weight`` W has shape (out_features, in_features): row k is neuron k's weights w_k, so output k is
    x·w_k + b_k, exactly a :class:`Neuron` without activation. ``bias`` b has shape (out_features,).
    Computed by ``biograd.linear`` as one fused graph node. Shapes: (batch, in) -> (batch, out).

    ``init`` chooses the starting weights:

    - ``"pytorch"`` (default, as ``torch.nn.Linear``): W and b from U(-1/sqrt(in), 1/sqrt(in));
    - ``"kaiming"``: He uniform for a following ReLU (Var(w) = 2/in), bias 0;
    - ``"xavier"``: Glorot uniform for tanh/sigmoid/linear (Var(w) = 2/(in + out)), bias 0.

    :class:`MLP` picks Kaiming or Xavier by itself from the activation that follows each layer.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, init: str = "pytorch") -> None:
        super().__init__()
        self.in_features = _check_positive_int(in_features, "in_features", "Linear")
        self.out_features = _check_positive_int(out_features, "out_features", "Linear")
        if init not in _INITS:
            raise ValueError(
                f"The 'init' parameter of Linear must be a str among {{'pytorch', 'kaiming', 'xavier'}}. "
                f"Got {init!r} instead."
            )
        self.init = init
        self.weight = Parameter(np.zeros((self.out_features, self.in_features), dtype=np.float32))
        if bias:
            self.bias = Parameter(np.zeros(self.out_features, dtype=np.float32))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh starting weights with this layer's ``init`` scheme (from biograd's global generator)."""
        if self.init == "pytorch":
            init.pytorch_default_(self.weight, self.bias)
        else:
            init.for_activation_(self.weight, self.bias, "relu" if self.init == "kaiming" else "identity")

    def forward(self, x: Any) -> Tensor:
        if not isinstance(x, Tensor):  # numpy data (often float64) takes the layer's dtype
            x = Tensor(x, dtype=self.weight.dtype)
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
        )

    def get_config(self) -> dict[str, Any]:
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "bias": self.bias is not None,
            "init": self.init,
        }


@register_layer
class Sequential(Module):
    """Layers applied one after the other: y = layer_n(...layer_2(layer_1(x))).

    Layers are named "0", "1", ... as in PyTorch, so parameters are called "0.weight", "0.bias", "2.weight"
    and so on. Indexable (``model[0]``, ``model[-1]``, slices give a new Sequential), ``len(model)``, and
    iterable over its layers.
    """

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for layer in layers:
            self.append(layer)

    def append(self, layer: Module) -> Sequential:
        """Add a layer at the end (named by its position). Returns self."""
        if not isinstance(layer, Module):
            raise TypeError(
                f"Sequential takes biograd modules (layers such as nn.Linear(4, 8) or nn.ReLU()); got "
                f"{type(layer).__name__}. For a function, wrap it in a Module subclass."
            )
        self.add_module(str(len(self._modules)), layer)
        return self

    def forward(self, x: Any) -> Any:
        for layer in self._modules.values():
            x = layer(x)
        return x

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def __getitem__(self, index: int | slice) -> Module:
        layers = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*layers[index])
        try:
            return layers[index]
        except IndexError:
            raise IndexError(
                f"{type(self).__name__} has {len(layers)} layers; index {index} is out of range."
            ) from None
        except TypeError:
            raise TypeError(f"Layers are indexed by position (an int or a slice); got {index!r}.") from None

    def get_config(self) -> dict[str, Any]:
        return {"layers": [to_config(layer) for layer in self._modules.values()]}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Module:
        return cls(*[from_config(c) for c in config.get("layers", [])])


@register_layer
class MLP(Sequential):
    """A multilayer perceptron (fully connected network) from its layer sizes.

    ``MLP([4, 16, 16, 3])`` means 4 inputs, two hidden layers of 16 neurons, 3 outputs, and is the same as::

        Sequential(Linear(4, 16), ReLU(), Linear(16, 16), ReLU(), Linear(16, 3))

    with ``Dropout(dropout)`` after each hidden activation when ``dropout > 0``, and ``output_activation``
    (e.g. "sigmoid") after the last Linear if given. Leave it None for losses that take raw scores
    (CrossEntropyLoss, BCEWithLogitsLoss) and for regression. The layers are numbered in that order, so the
    state_dict keys ("0.weight", "0.bias", "2.weight", ...; with dropout "3.weight", ...) are exactly those
    of the equivalent ``torch.nn.Sequential``.

    Each Linear starts with He/Kaiming-uniform weights when a ReLU-family activation follows it and
    Xavier/Glorot-uniform otherwise (tanh, sigmoid, softmax, none); biases start at 0.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str | Module | None = "relu",
        dropout: float = 0.0,
        output_activation: str | Module | None = None,
    ) -> None:
        super().__init__()
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or len(sizes) < 2:
            raise ValueError(
                f"The 'sizes' parameter of MLP must be a list of at least 2 layer sizes, inputs first and "
                f"outputs last (e.g. [4, 16, 3]). Got {sizes!r} instead."
            )
        sizes = [_check_positive_int(n, "sizes", "MLP") for n in sizes]
        F._check_probability(dropout, "MLP (dropout)")
        self.sizes = sizes
        self.dropout = float(dropout)
        hidden_act = get_activation(activation)
        out_act = None if output_activation is None else get_activation(output_activation)
        # kept unregistered (object.__setattr__) so layer numbering and state_dict keys stay PyTorch's
        object.__setattr__(self, "_activations", (hidden_act, out_act))
        n_layers = len(sizes) - 1
        for i in range(n_layers):
            layer = Linear(sizes[i], sizes[i + 1])
            last = i == n_layers - 1
            follower = hidden_act if not last else (out_act if out_act is not None else get_activation(None))
            _init_for(layer.weight, layer.bias, follower)
            self.append(layer)
            if not last:
                self.append(fresh_copy(hidden_act))
                if self.dropout > 0:
                    self.append(Dropout(self.dropout))
            elif out_act is not None:
                self.append(fresh_copy(out_act))

    def extra_repr(self) -> str:
        return f"sizes={self.sizes}"

    def get_config(self) -> dict[str, Any]:
        return {
            "sizes": list(self.sizes),
            "activation": activation_spec(self._activations[0]),
            "dropout": self.dropout,
            "output_activation": None
            if self._activations[1] is None
            else activation_spec(self._activations[1]),
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Module:
        return cls(**config)


@register_layer
class Flatten(Module):
    """Flatten every axis from ``start_axis`` on into one: (batch, 28, 28) -> (batch, 784)."""

    def __init__(self, start_axis: int = 1) -> None:
        super().__init__()
        self.start_axis = int(start_axis)

    def forward(self, x: Any) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        start = self.start_axis % x.ndim if x.ndim else 0
        return x.reshape((*x.shape[:start], -1))

    def extra_repr(self) -> str:
        return f"start_axis={self.start_axis}"

    def get_config(self) -> dict[str, Any]:
        return {"start_axis": self.start_axis}


@register_layer
class Dropout(Module):
    """Randomly silence each value with probability ``p`` while training (a regularizer).

    Inverted dropout: kept values are scaled by 1/(1 - p), so the expected output equals the input and
    nothing changes at prediction time. In eval mode (``model.eval()``) it is the identity. The mask comes
    from biograd's global generator, so ``biograd.manual_seed`` makes it reproducible.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        F._check_probability(p, "Dropout")
        self.p = float(p)

    def forward(self, x: Any) -> Tensor:
        return F.dropout(x, self.p, training=self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def get_config(self) -> dict[str, Any]:
        return {"p": self.p}


@register_layer
class Standardize(Module):
    """Rescale each input feature: y = (x - shift) / scale, with fixed (not learned) ``shift`` and ``scale``.

    This is the standardization x' = (x - mean) / sd that tables get before training, as a layer, so that
    a network can carry its own scaling (e.g. a committee member trained on one fold, whose mean and sd
    came from that fold's training rows only). The gradient is dL/dx = dL/dy / scale.
    """

    def __init__(self, shift: Sequence[float], scale: Sequence[float]) -> None:
        super().__init__()
        shift_ = np.asarray(shift, dtype=np.float64).ravel()
        scale_ = np.asarray(scale, dtype=np.float64).ravel()
        if shift_.shape != scale_.shape or shift_.size == 0:
            raise ValueError(
                f"Standardize needs one shift and one scale per feature; got {shift_.size} and {scale_.size}."
            )
        if not (np.isfinite(shift_).all() and np.isfinite(scale_).all() and (scale_ > 0).all()):
            raise ValueError("Standardize needs finite shifts and finite scales > 0 (a standard deviation).")
        self.shift = shift_
        self.scale = scale_

    def forward(self, x: Any) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.shape[-1] != self.shift.size:
            raise ValueError(
                f"Standardize expects {self.shift.size} features (last axis); got shape {tuple(x.shape)}."
            )
        dtype = x.data.dtype if x.data.dtype.kind == "f" else np.float32
        return (x - self.shift.astype(dtype)) / self.scale.astype(dtype)

    def extra_repr(self) -> str:
        return f"features={self.shift.size}"

    def get_config(self) -> dict[str, Any]:
        return {"shift": self.shift.tolist(), "scale": self.scale.tolist()}
