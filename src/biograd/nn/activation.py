"""Activation functions as modules: the "activation" in a neuron's y = activation(x·w^T + b).

Without them a stack of layers collapses into one linear map (W2 (W1 x) = (W2 W1) x); the bend they add
lets a network fit curves. Each module calls the function of the same name in :mod:`biograd.functional`.
``get_activation("relu")`` builds one from its name (the CLI and ``MLP`` use it).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from biograd import functional as F
from biograd.nn.module import Module, from_config, register_layer, to_config
from biograd.tensor import Tensor


@register_layer
class Identity(Module):
    """y = x: no activation (a linear neuron, e.g. the output of a regression network)."""

    def forward(self, x: Any) -> Tensor:
        return F.identity(x)

    def get_config(self) -> dict[str, Any]:
        return {}


@register_layer
class ReLU(Module):
    """Rectified linear unit y = max(0, x): passes positive signals, silences negative ones.

    The default for hidden layers: cheap, and its gradient (1 for x > 0) does not shrink in deep networks.
    """

    def forward(self, x: Any) -> Tensor:
        return F.relu(x)

    def get_config(self) -> dict[str, Any]:
        return {}


@register_layer
class LeakyReLU(Module):
    """y = x for x > 0, else negative_slope * x: like ReLU, but a neuron stuck below 0 can still learn."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x: Any) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"

    def get_config(self) -> dict[str, Any]:
        return {"negative_slope": self.negative_slope}


@register_layer
class Sigmoid(Module):
    """y = 1 / (1 + e^-x), squashing any number into (0, 1): a probability for binary outputs."""

    def forward(self, x: Any) -> Tensor:
        return F.sigmoid(x)

    def get_config(self) -> dict[str, Any]:
        return {}


@register_layer
class Tanh(Module):
    """y = tanh(x), squashing into (-1, 1); zero-centred, unlike the sigmoid."""

    def forward(self, x: Any) -> Tensor:
        return F.tanh(x)

    def get_config(self) -> dict[str, Any]:
        return {}


@register_layer
class GELU(Module):
    """y = x * Phi(x) (Phi: standard normal CDF), the smooth ReLU of transformers.

    ``approximate="none"`` uses the exact erf form x/2 (1 + erf(x/sqrt 2)) like PyTorch's default;
    ``approximate="tanh"`` the tanh shortcut.
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(
                f"The 'approximate' parameter of GELU must be a str among {{'none', 'tanh'}}. "
                f"Got {approximate!r} instead."
            )
        self.approximate = approximate

    def forward(self, x: Any) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"

    def get_config(self) -> dict[str, Any]:
        return {"approximate": self.approximate}


def _axis_or_dim(axis: int, dim: int | None) -> int:
    """numpy's ``axis``, or PyTorch's name for it, ``dim`` (``nn.Softmax(dim=1)`` carries over)."""
    return int(axis if dim is None else dim)


@register_layer
class Softmax(Module):
    """y_i = e^(x_i) / sum_j e^(x_j) along ``axis``: class scores -> probabilities summing to 1.

    Do not put it before CrossEntropyLoss, which takes raw scores (logits) and applies log-softmax itself.
    """

    def __init__(self, axis: int = -1, *, dim: int | None = None) -> None:
        super().__init__()
        self.axis = _axis_or_dim(axis, dim)

    def forward(self, x: Any) -> Tensor:
        return F.softmax(x, self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis}


@register_layer
class LogSoftmax(Module):
    """y = ln softmax(x) = x - logsumexp(x) along ``axis`` (pair it with NLLLoss)."""

    def __init__(self, axis: int = -1, *, dim: int | None = None) -> None:
        super().__init__()
        self.axis = _axis_or_dim(axis, dim)

    def forward(self, x: Any) -> Tensor:
        return F.log_softmax(x, self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis}


_ACTIVATIONS: dict[str, type[Module]] = {
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "gelu": GELU,
    "softmax": Softmax,
    "log_softmax": LogSoftmax,
    "identity": Identity,
    "linear": Identity,
}


def activation_names() -> list[str]:
    """The names ``get_activation`` understands."""
    return [*_ACTIVATIONS, "None"]


def get_activation(name_or_module: str | Module | Mapping[str, Any] | None) -> Module:
    """An activation module from its name ("relu", "leaky_relu", "sigmoid", "tanh", "gelu", "softmax",
    "identity"/"linear"/None); a Module is returned as is, a ``to_config`` dict is rebuilt.

    >>> get_activation("tanh")                                    # doctest: +SKIP
    Tanh()
    """
    if name_or_module is None:
        return Identity()
    if isinstance(name_or_module, Module):
        return name_or_module
    if isinstance(name_or_module, Mapping):
        return from_config(name_or_module)
    if isinstance(name_or_module, type) and issubclass(name_or_module, Module):
        return name_or_module()
    if isinstance(name_or_module, str):
        key = name_or_module.strip().lower().replace("-", "_")
        key = {"none": "identity", "leakyrelu": "leaky_relu", "logsoftmax": "log_softmax"}.get(key, key)
        if key in _ACTIVATIONS:
            return _ACTIVATIONS[key]()
    raise ValueError(
        f"Unknown activation {name_or_module!r}. Valid names: {', '.join(activation_names())} "
        "(or pass an activation module such as biograd.nn.LeakyReLU(0.2))."
    )


def activation_spec(module: Module) -> str | dict[str, Any]:
    """How a layer stores its activation in ``get_config``: the plain name when the activation has its
    default settings (``"relu"``), else its full ``to_config`` dict."""
    for name, cls in _ACTIVATIONS.items():
        if type(module) is cls and to_config(module) == to_config(cls()):
            return name
    return to_config(module)


def activation_name(module: Module) -> str | None:
    """The lower-case name of a built-in activation (for choosing an initialization), else None."""
    for name, cls in _ACTIVATIONS.items():
        if type(module) is cls:
            return name
    return None


def fresh_copy(module: Module) -> Module:
    """An independent copy of an activation module (so each layer of a network has its own)."""
    return copy.deepcopy(module)
