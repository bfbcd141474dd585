"""Hand a biograd model to PyTorch (and take one back) when the data outgrows a laptop.

``to_torch(model)`` builds the equivalent ``torch.nn.Module``: the same layers in the same order, the same
weights (copied), so the same outputs and the same gradients. Parameter names and layouts are PyTorch's
already (``"0.weight"`` of shape (out_features, in_features)), so the state_dict keys match and a file
written by ``biograd.save`` loads with ``torch_model.load_state_dict(safetensors.torch.load_file(...))``.
``from_torch(module)`` goes the other way for the layers biograd has.

=====================================  ==========================================================
biograd                                PyTorch
=====================================  ==========================================================
Linear(in, out, bias)                  torch.nn.Linear(in, out, bias)
Neuron(in, activation)                 biograd.interop.TorchNeuron (weight (in,), bias ())
ReLU, LeakyReLU(slope), Sigmoid,       torch.nn.ReLU, LeakyReLU(slope), Sigmoid, Tanh,
Tanh, GELU(approximate), Identity      GELU(approximate), Identity
Softmax(axis), LogSoftmax(axis)        torch.nn.Softmax(dim=axis), LogSoftmax(dim=axis)
Dropout(p)                             torch.nn.Dropout(p)
Conv1d(in, out, k, stride, padding)    torch.nn.Conv1d(in, out, k, stride, padding)
MaxPool1d(k, stride)                   torch.nn.MaxPool1d(k, stride)
GlobalMaxPool1d()                      biograd.interop.TorchGlobalMaxPool1d (x.amax(dim=2))
Flatten(start_axis)                    torch.nn.Flatten(start_dim=start_axis)
Sequential, MLP                        torch.nn.Sequential (an MLP comes back as a Sequential)
Standardize(shift, scale)              biograd.interop.TorchStandardize ((x - shift) / scale)
SelectFeatures(indices, in_features)   biograd.interop.TorchSelectFeatures (x[:, indices])
Committee(members, combine)            biograd.interop.TorchCommittee: the members' probabilities
                                       averaged as biograd does; ``.members`` is the list of the
                                       members as ordinary torch modules, for where one network is
                                       needed
=====================================  ==========================================================

Dtypes are kept: float32 (biograd's default) stays float32 and float64 stays float64. torch is imported
inside the functions only (``pip install "biograd[torch]"``), so ``import biograd`` never loads it.

>>> import biograd                                            # doctest: +SKIP
>>> from biograd.interop import to_torch, from_torch
>>> model = biograd.nn.MLP([4, 16, 3])
>>> torch_model = to_torch(model)       # a torch.nn.Sequential: train it on a GPU, with DDP, ...
>>> back = from_torch(torch_model)      # a biograd Sequential with the trained weights
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from biograd.nn.activation import GELU, Identity, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from biograd.nn.committee import Committee, SelectFeatures
from biograd.nn.conv import Conv1d, GlobalMaxPool1d, MaxPool1d
from biograd.nn.layers import MLP, Dropout, Flatten, Linear, Neuron, Sequential, Standardize
from biograd.nn.module import Module, Parameter

__all__ = ["UnsupportedLayerError", "from_torch", "to_torch"]

_BIOGRAD_LAYERS = (
    "Linear, Neuron, ReLU, LeakyReLU, Sigmoid, Tanh, GELU, Softmax, LogSoftmax, Identity, Dropout, Conv1d, "
    "MaxPool1d, GlobalMaxPool1d, Flatten, Sequential, MLP, Standardize, SelectFeatures, Committee"
)
_TORCH_LAYERS = (
    "Linear, ReLU, LeakyReLU, Sigmoid, Tanh, GELU, Softmax, LogSoftmax, Identity, Dropout, Conv1d, "
    "MaxPool1d, Flatten, Sequential, and biograd.interop's TorchNeuron, TorchGlobalMaxPool1d, "
    "TorchStandardize, TorchSelectFeatures and TorchCommittee"
)


class UnsupportedLayerError(TypeError):
    """A layer that has no equivalent on the other side; the message names its path and type."""


def _import_torch() -> Any:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is installed wherever the tests run
        raise ImportError(
            'biograd.interop needs PyTorch. Install it with: pip install "biograd[torch]" (or see '
            "https://pytorch.org for a build that matches your GPU)."
        ) from None
    return torch


@functools.cache
def _torch_layers() -> dict[str, type]:
    """The two torch modules PyTorch has no class for, built on first use (so torch loads lazily)."""
    torch = _import_torch()

    class TorchNeuron(torch.nn.Module):
        """biograd's Neuron in PyTorch: y = activation(x @ w + b); w has shape (in_features,), b ()."""

        def __init__(self, in_features: int, activation: Any = None, dtype: Any = None) -> None:
            super().__init__()
            self.in_features = in_features
            self.weight = torch.nn.Parameter(torch.zeros(in_features, dtype=dtype))
            self.bias = torch.nn.Parameter(torch.zeros((), dtype=dtype))
            self.activation = activation if activation is not None else torch.nn.Identity()

        def forward(self, x: Any) -> Any:
            return self.activation(x @ self.weight + self.bias)

        def extra_repr(self) -> str:
            return f"in_features={self.in_features}"

    class TorchGlobalMaxPool1d(torch.nn.Module):
        """(samples, channels, length) -> (samples, channels): the max over positions. ``amax`` shares the
        gradient equally between tied maxima, as biograd does (``AdaptiveMaxPool1d`` gives it to one)."""

        def forward(self, x: Any) -> Any:
            return x.amax(dim=2)

    class TorchStandardize(torch.nn.Module):
        """biograd's Standardize: y = (x - shift) / scale per feature (last axis), shift and scale fixed
        (buffers, not parameters; kept out of the state_dict as biograd keeps them out of its own)."""

        def __init__(self, shift: Any, scale: Any) -> None:
            super().__init__()
            self.register_buffer("shift", torch.as_tensor(np.asarray(shift, np.float64)), persistent=False)
            self.register_buffer("scale", torch.as_tensor(np.asarray(scale, np.float64)), persistent=False)

        def forward(self, x: Any) -> Any:
            return (x - self.shift.to(x.dtype)) / self.scale.to(x.dtype)

        def extra_repr(self) -> str:
            return f"features={self.shift.numel()}"

    class TorchSelectFeatures(torch.nn.Module):
        """biograd's SelectFeatures: (samples, in_features) -> (samples, len(indices)), x[:, indices]."""

        def __init__(self, indices: Any, in_features: int) -> None:
            super().__init__()
            self.in_features = int(in_features)
            index = torch.as_tensor(np.asarray(indices, np.int64))
            self.register_buffer("indices", index, persistent=False)

        def forward(self, x: Any) -> Any:
            return x[:, self.indices]

        def extra_repr(self) -> str:
            return f"{self.indices.numel()} of {self.in_features} features"

    class TorchCommittee(torch.nn.Module):
        """biograd's Committee: the members' outputs combined as biograd combines them.

        ``"softmax"``: log of the averaged class probabilities, logsumexp_m(log_softmax(z_m)) - log M;
        ``"sigmoid"``: the logit of the averaged P(class 1); ``"mean"``: the members' mean. The members are
        children "0", "1", ... (so state_dict keys match biograd's); ``.members`` lists them.
        """

        def __init__(self, members: Any, combine: str = "softmax") -> None:
            super().__init__()
            self.combine = combine
            for i, member in enumerate(members):
                self.add_module(str(i), member)

        @property
        def members(self) -> list[Any]:
            return list(self.children())

        def forward(self, x: Any) -> Any:
            z = torch.stack([m(x) for m in self.children()])
            log_m = float(np.log(z.shape[0]))
            if self.combine == "mean":
                return z.mean(dim=0)
            if self.combine == "softmax":
                return torch.logsumexp(torch.log_softmax(z, dim=-1), dim=0) - log_m
            log_p = torch.logsumexp(torch.nn.functional.logsigmoid(z), dim=0) - log_m
            log_q = torch.logsumexp(torch.nn.functional.logsigmoid(-z), dim=0) - log_m
            return log_p - log_q

        def extra_repr(self) -> str:
            return f"combine={self.combine!r}"

    made = (TorchNeuron, TorchGlobalMaxPool1d, TorchStandardize, TorchSelectFeatures, TorchCommittee)
    for cls in made:  # picklable as biograd.interop.<name>
        cls.__module__ = __name__
        cls.__qualname__ = cls.__name__
    return {cls.__name__: cls for cls in made}


def __getattr__(name: str) -> Any:
    # biograd.interop.TorchNeuron, TorchCommittee, ... exist once asked for (importing torch then)
    if name in (
        "TorchNeuron",
        "TorchGlobalMaxPool1d",
        "TorchStandardize",
        "TorchSelectFeatures",
        "TorchCommittee",
    ):
        return _torch_layers()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _where(path: str) -> str:
    return f"layer {path!r}" if path else "the model itself"


# ==================================================================================================
# biograd -> PyTorch
# ==================================================================================================


def _copy_into(torch: Any, torch_param: Any, param: Parameter | None) -> None:
    with torch.no_grad():
        torch_param.copy_(torch.from_numpy(np.array(param.data, copy=True)))
    torch_param.requires_grad_(param.requires_grad)


def _dtype_of(torch: Any, param: Parameter) -> Any:
    return {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}.get(
        np.dtype(param.data.dtype), torch.float32
    )


def _to_torch(module: Module, path: str, torch: Any) -> Any:
    nn = torch.nn
    kind = type(module)
    if kind in (Sequential, MLP):
        return nn.Sequential(
            *[
                _to_torch(child, f"{path}.{name}" if path else name, torch)
                for name, child in module.named_children()
            ]
        )
    if kind is Linear:
        dtype = _dtype_of(torch, module.weight)
        layer = nn.utils.skip_init(
            nn.Linear, module.in_features, module.out_features, bias=module.bias is not None, dtype=dtype
        )
        _copy_into(torch, layer.weight, module.weight)
        if module.bias is not None:
            _copy_into(torch, layer.bias, module.bias)
        return layer
    if kind is Conv1d:
        dtype = _dtype_of(torch, module.weight)
        layer = nn.utils.skip_init(
            nn.Conv1d,
            module.in_channels,
            module.out_channels,
            module.kernel_size,
            stride=module.stride,
            padding=module.padding,
            bias=module.bias is not None,
            dtype=dtype,
        )
        _copy_into(torch, layer.weight, module.weight)
        if module.bias is not None:
            _copy_into(torch, layer.bias, module.bias)
        return layer
    if kind is Committee:
        members = [
            _to_torch(m, f"{path}.{i}" if path else str(i), torch) for i, m in enumerate(module.members)
        ]
        return _torch_layers()["TorchCommittee"](members, module.combine)
    if kind is Standardize:
        return _torch_layers()["TorchStandardize"](module.shift, module.scale)
    if kind is SelectFeatures:
        return _torch_layers()["TorchSelectFeatures"](module.indices, module.in_features)
    if kind is Neuron:
        activation = _to_torch(module.activation, f"{path}.activation" if path else "activation", torch)
        layer = _torch_layers()["TorchNeuron"](
            module.in_features, activation, _dtype_of(torch, module.weight)
        )
        _copy_into(torch, layer.weight, module.weight)
        _copy_into(torch, layer.bias, module.bias)
        return layer
    simple = {
        Identity: lambda m: nn.Identity(),
        ReLU: lambda m: nn.ReLU(),
        LeakyReLU: lambda m: nn.LeakyReLU(m.negative_slope),
        Sigmoid: lambda m: nn.Sigmoid(),
        Tanh: lambda m: nn.Tanh(),
        GELU: lambda m: nn.GELU(approximate=m.approximate),
        Softmax: lambda m: nn.Softmax(dim=m.axis),
        LogSoftmax: lambda m: nn.LogSoftmax(dim=m.axis),
        Dropout: lambda m: nn.Dropout(m.p),
        MaxPool1d: lambda m: nn.MaxPool1d(m.kernel_size, m.stride),
        GlobalMaxPool1d: lambda m: _torch_layers()["TorchGlobalMaxPool1d"](),
        Flatten: lambda m: nn.Flatten(start_dim=m.start_axis),
    }
    if kind in simple:
        return simple[kind](module)
    raise UnsupportedLayerError(
        f"to_torch cannot convert {_where(path)} ({kind.__module__}.{kind.__qualname__}): PyTorch has no "
        f"layer known to match it. Layers that convert: {_BIOGRAD_LAYERS}. For your own module, build the "
        "same architecture in PyTorch and copy the weights with "
        "torch_model.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})."
    )


def to_torch(model: Module) -> Any:
    """The equivalent ``torch.nn.Module``: same layers, same weights, same outputs and gradients.

    A :class:`~biograd.nn.Committee` becomes a ``TorchCommittee`` that averages its members' probabilities
    exactly as biograd does; ``to_torch(committee).members`` is the list of members as ordinary torch
    modules, for tools that need one network.

    Weights are copied (the two models are independent afterwards) and keep their dtype (float32 or
    float64). The torch module is in the same mode as ``model`` (``train()`` or ``eval()``). Its
    ``state_dict()`` has the same keys and shapes as ``model.state_dict()``.

    Raises:
        UnsupportedLayerError: naming the first layer (its dotted path and class) PyTorch has no match for,
            e.g. a custom Module whose ``forward`` is your own Python code.

    >>> torch_model = to_torch(biograd.nn.MLP([4, 16, 3]))       # doctest: +SKIP
    >>> torch_model(torch.randn(2, 4)).shape
    torch.Size([2, 3])
    """
    if not isinstance(model, Module):
        raise TypeError(f"to_torch() needs a biograd Module; got {type(model).__name__}.")
    torch = _import_torch()
    torch_model = _to_torch(model, "", torch)
    return torch_model.train(model.training)


# ==================================================================================================
# PyTorch -> biograd
# ==================================================================================================


def _as_numpy(torch: Any, value: Any) -> np.ndarray:
    value = value.detach().cpu()
    if value.dtype not in (torch.float32, torch.float64):  # half precision, bfloat16: biograd uses float32
        value = value.float()
    return value.numpy().copy()


def _set(param: Parameter, torch: Any, torch_param: Any) -> None:
    param.data = _as_numpy(torch, torch_param)
    param.requires_grad = bool(torch_param.requires_grad)


def _unsupported(path: str, module: Any, why: str) -> UnsupportedLayerError:
    kind = type(module)
    return UnsupportedLayerError(
        f"from_torch cannot convert {_where(path)} ({kind.__module__}.{kind.__qualname__}): {why}"
    )


def _single(value: Any) -> Any:
    """PyTorch stores kernel sizes etc. as 1-tuples: (5,) -> 5."""
    return value[0] if isinstance(value, tuple) and len(value) == 1 else value


def _from_torch(module: Any, path: str, torch: Any) -> Module:
    nn = torch.nn
    kind = type(module)
    custom = _torch_layers()
    if kind is nn.Sequential:
        return Sequential(
            *[
                _from_torch(child, f"{path}.{name}" if path else name, torch)
                for name, child in module.named_children()
            ]
        )
    if kind is nn.Linear:
        layer = Linear(module.in_features, module.out_features, bias=module.bias is not None)
        _set(layer.weight, torch, module.weight)
        if module.bias is not None:
            _set(layer.bias, torch, module.bias)
        return layer
    if kind is nn.Conv1d:
        padding = _single(module.padding)
        problems = []
        if module.padding_mode != "zeros":
            problems.append(f"padding_mode={module.padding_mode!r} (biograd pads with zeros)")
        if _single(module.dilation) != 1:
            problems.append(f"dilation={_single(module.dilation)} (biograd has dilation 1)")
        if module.groups != 1:
            problems.append(f"groups={module.groups} (biograd has groups=1)")
        if problems:
            raise _unsupported(path, module, "it uses " + ", ".join(problems) + ".")
        layer = Conv1d(
            module.in_channels,
            module.out_channels,
            _single(module.kernel_size),
            stride=_single(module.stride),
            padding=padding,
            bias=module.bias is not None,
        )
        _set(layer.weight, torch, module.weight)
        if module.bias is not None:
            _set(layer.bias, torch, module.bias)
        return layer
    if kind is custom["TorchCommittee"]:
        members = [
            _from_torch(child, f"{path}.{name}" if path else name, torch)
            for name, child in module.named_children()
        ]
        return Committee(members, combine=module.combine)
    if kind is custom["TorchStandardize"]:
        return Standardize(_as_numpy(torch, module.shift), _as_numpy(torch, module.scale))
    if kind is custom["TorchSelectFeatures"]:
        return SelectFeatures(module.indices.cpu().numpy().tolist(), module.in_features)
    if kind is custom["TorchNeuron"]:
        activation = _from_torch(module.activation, f"{path}.activation" if path else "activation", torch)
        layer = Neuron(module.in_features, activation=activation)
        _set(layer.weight, torch, module.weight)
        _set(layer.bias, torch, module.bias)
        return layer
    if kind is nn.MaxPool1d:
        if (
            _single(module.padding) != 0
            or _single(module.dilation) != 1
            or module.ceil_mode
            or module.return_indices
        ):
            raise _unsupported(
                path, module, "biograd's MaxPool1d has padding=0, dilation=1, ceil_mode=False and no indices."
            )
        return MaxPool1d(_single(module.kernel_size), _single(module.stride))
    if kind in (nn.Softmax, nn.LogSoftmax):
        if module.dim is None:
            raise _unsupported(path, module, "its dim is None (implicit); give it dim=-1 or dim=1.")
        return (Softmax if kind is nn.Softmax else LogSoftmax)(axis=module.dim)
    if kind is nn.Flatten:
        if module.end_dim != -1:
            raise _unsupported(
                path, module, f"end_dim={module.end_dim}; biograd's Flatten flattens to the end."
            )
        return Flatten(start_axis=module.start_dim)
    simple = {
        nn.Identity: lambda m: Identity(),
        nn.ReLU: lambda m: ReLU(),
        nn.LeakyReLU: lambda m: LeakyReLU(m.negative_slope),
        nn.Sigmoid: lambda m: Sigmoid(),
        nn.Tanh: lambda m: Tanh(),
        nn.GELU: lambda m: GELU(approximate=m.approximate),
        nn.Dropout: lambda m: Dropout(m.p),
        custom["TorchGlobalMaxPool1d"]: lambda m: GlobalMaxPool1d(),
    }
    if kind in simple:
        return simple[kind](module)
    why = "biograd has no equivalent layer."
    if kind.forward is not nn.Module.forward and not kind.__module__.startswith("torch.nn"):
        why = (
            "it is a custom module whose forward() is Python code biograd cannot translate. Write the "
            "network as torch.nn.Sequential of supported layers, or rebuild it in biograd and copy the "
            "weights with model.load_state_dict({k: v.numpy() for k, v in torch_model.state_dict().items()})."
        )
    raise _unsupported(path, module, f"{why} Layers that convert: {_TORCH_LAYERS}.")


def from_torch(module: Any) -> Module:
    """The equivalent biograd model of a PyTorch module built from the layers biograd has.

    Weights are copied; float32 and float64 are kept (half precision becomes float32). A
    ``torch.nn.Sequential`` becomes a biograd :class:`~biograd.nn.Sequential` with the same layer numbers, so
    the state_dict keys are the same. The biograd model is in the same mode (train/eval) as ``module``.

    Raises:
        UnsupportedLayerError: naming the first layer (its dotted path, e.g. ``'2.1'``, and its torch class)
            that biograd cannot represent, such as ``torch.nn.BatchNorm1d`` or a custom module.
    """
    torch = _import_torch()
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"from_torch() needs a torch.nn.Module; got {type(module).__name__}.")
    model = _from_torch(module, "", torch)
    return model.train(module.training)
