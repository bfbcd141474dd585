"""Sequence layers: 1-D convolution and max pooling, the translation-invariant motif detector.

A convolution filter of width K is a position weight matrix that the network learns: it slides along a
one-hot sequence of shape (samples, channels, length) (4 channels for DNA, 20 for protein) and scores
every window. Max pooling then keeps the best score, wherever the motif sits. Layouts and weights follow
PyTorch (input (N, C, L), weight (out_channels, in_channels, kernel_size)), so state_dicts line up.

>>> from biograd import nn                                    # doctest: +SKIP
>>> model = nn.Sequential(nn.Conv1d(4, 16, kernel_size=12), nn.ReLU(), nn.GlobalMaxPool1d(), nn.Linear(16, 1))
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from biograd import kernels
from biograd.random import get_generator
from biograd.tensor import Tensor, _apply, as_tensor
from biograd.tensor_functions import max as _max

from .module import Module, Parameter, register_layer


def _positive_int(value: Any, name: str, layer: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(
            f"The '{name}' parameter of {layer} must be an int >= {minimum}. Got {value!r} instead."
        )
    return int(value)


def _padding_pair(padding: int | str, kernel_size: int, stride: int) -> tuple[int, int]:
    """(left, right) zero padding. "same" keeps the length (stride 1): K-1 zeros, the extra one on the
    right when K is even (PyTorch's rule)."""
    if padding == "same":
        if stride != 1:
            raise ValueError(
                "padding='same' needs stride=1 (with a larger stride the output is shorter anyway). "
                f"Got stride={stride}; use an integer padding instead."
            )
        total = kernel_size - 1
        return total // 2, total - total // 2
    if padding == "valid":
        return 0, 0
    if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 0:
        raise ValueError(
            "The 'padding' parameter of Conv1d must be an int >= 0, 'same' or 'valid'. "
            f"Got {padding!r} instead."
        )
    return int(padding), int(padding)


def conv1d(
    x: Any, weight: Tensor, bias: Tensor | None = None, stride: int = 1, padding: int | str = 0
) -> Tensor:
    """1-D convolution (cross-correlation, as PyTorch).

    y[n, o, t] = b[o] + sum over c, k of W[o, c, k] * x[n, c, t*stride + k] (after zero padding).

    ``x`` has shape (samples, in_channels, length); ``weight`` (out_channels, in_channels, kernel_size).
    The output has shape (samples, out_channels, (length + padding_total - kernel_size) // stride + 1).
    """
    x = as_tensor(x)
    k = weight.shape[-1]
    op = kernels.Conv1d(stride=stride, padding=_padding_pair(padding, k, stride))
    if bias is None:
        return _apply(op, x, weight)
    return _apply(op, x, weight, bias)


def max_pool1d(x: Any, kernel_size: int, stride: int | None = None) -> Tensor:
    """Max over windows of ``kernel_size`` positions stepping by ``stride`` (default: kernel_size)."""
    stride = kernel_size if stride is None else stride
    return _apply(kernels.MaxPool1d(kernel_size, stride), as_tensor(x))


@register_layer
class Conv1d(Module):
    """A bank of ``out_channels`` filters, each ``kernel_size`` positions wide, slid along the sequence.

    Args:
        in_channels: channels of the input (4 for one-hot DNA/RNA, 20 for protein).
        out_channels: number of filters (motif detectors) to learn.
        kernel_size: width of each filter in positions (a typical motif is 6-20 bases).
        stride: step between windows.
        padding: zeros added at both ends (an int), or "same" to keep the length (stride 1 only).
        bias: learn one offset per filter.

    Weights start as PyTorch's: uniform in +-1/sqrt(in_channels * kernel_size).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int | str = 0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.in_channels = _positive_int(in_channels, "in_channels", "Conv1d")
        self.out_channels = _positive_int(out_channels, "out_channels", "Conv1d")
        self.kernel_size = _positive_int(kernel_size, "kernel_size", "Conv1d")
        self.stride = _positive_int(stride, "stride", "Conv1d")
        _padding_pair(padding, self.kernel_size, self.stride)  # validate now, not at the first call
        self.padding = padding
        bound = 1.0 / math.sqrt(self.in_channels * self.kernel_size)
        rng = get_generator()
        shape = (self.out_channels, self.in_channels, self.kernel_size)
        self.weight = Parameter(rng.uniform(-bound, bound, shape).astype(np.float32))
        if bias:
            self.bias = Parameter(rng.uniform(-bound, bound, self.out_channels).astype(np.float32))
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Any) -> Tensor:
        return conv1d(x, self.weight, self.bias, self.stride, self.padding)

    def get_config(self) -> dict[str, Any]:
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": self.kernel_size,
            "stride": self.stride,
            "padding": self.padding,
            "bias": self.bias is not None,
        }

    def extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        )
        if self.padding not in (0, "valid"):
            text += f", padding={self.padding!r}"
        if self.bias is None:
            text += ", bias=False"
        return text


@register_layer
class MaxPool1d(Module):
    """Keep the largest value in each window of ``kernel_size`` positions (stride defaults to the
    window size, so windows do not overlap). Shrinks the length, keeps the channels."""

    def __init__(self, kernel_size: int, stride: int | None = None) -> None:
        super().__init__()
        self.kernel_size = _positive_int(kernel_size, "kernel_size", "MaxPool1d")
        self.stride = self.kernel_size if stride is None else _positive_int(stride, "stride", "MaxPool1d")

    def forward(self, x: Any) -> Tensor:
        return max_pool1d(x, self.kernel_size, self.stride)

    def get_config(self) -> dict[str, Any]:
        return {"kernel_size": self.kernel_size, "stride": self.stride}

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


@register_layer
class GlobalMaxPool1d(Module):
    """(samples, channels, length) -> (samples, channels): each filter's best score anywhere in the
    sequence, so a motif counts the same wherever it sits. Ties share the gradient equally."""

    def forward(self, x: Any) -> Tensor:
        x = as_tensor(x)
        if x.ndim != 3:
            raise ValueError(
                f"GlobalMaxPool1d needs input of shape (samples, channels, length); got shape {x.shape}."
            )
        return _max(x, axis=2)

    def get_config(self) -> dict[str, Any]:
        return {}


__all__ = ["Conv1d", "GlobalMaxPool1d", "MaxPool1d", "conv1d", "max_pool1d"]
