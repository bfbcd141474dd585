"""Weight initialization: where gradient descent starts.

Random starting weights break the symmetry between neurons (identical weights would stay identical).
Their *scale* matters too: each layer sums ``fan_in`` products x_j * w_j, so with Var(w) = 1 the
signal's variance would grow ``fan_in``-fold per layer. The classic schemes pick Var(w) to keep it steady:

- Xavier / Glorot (tanh, sigmoid, linear):  Var(w) = gain^2 * 2 / (fan_in + fan_out)
- He / Kaiming (ReLU family):               Var(w) = gain^2 / fan_in, with gain^2 = 2 for ReLU
  (ReLU zeroes half of its inputs, halving the variance, so the weights make up for it).

A uniform U(-a, a) has variance a^2 / 3, so the uniform versions use a = sqrt(3 Var(w)).

Every function fills a Parameter in place and returns it. Draws come from biograd's global generator
(``biograd.manual_seed(0)`` makes them reproducible) unless ``seed`` (an int or a numpy Generator) is given.

>>> w = Parameter(np.empty((16, 4)))                            # doctest: +SKIP
>>> kaiming_uniform_(w, nonlinearity="relu", seed=0)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from biograd.random import get_generator
from biograd.tensor import Tensor

_GAINS = ("linear", "identity", "conv1d", "conv2d", "conv3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor that keeps a layer's output variance steady for this activation (PyTorch's values).

    linear/identity/conv/sigmoid: 1;  tanh: 5/3;  relu: sqrt(2);  leaky_relu: sqrt(2 / (1 + slope^2))
    (slope ``param``, default 0.01);  selu: 3/4.
    """
    name = str(nonlinearity).lower()
    if name in ("linear", "identity", "conv1d", "conv2d", "conv3d", "sigmoid"):
        return 1.0
    if name == "tanh":
        return 5.0 / 3.0
    if name == "relu":
        return math.sqrt(2.0)
    if name == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1.0 + slope**2))
    if name == "selu":
        return 3.0 / 4.0
    raise ValueError(f"Unknown nonlinearity {nonlinearity!r} for calculate_gain. Valid: {', '.join(_GAINS)}.")


def _calculate_fans(param: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out): how many inputs feed each output unit and how many outputs each input feeds.

    A Linear weight (out, in) has fan_in = in, fan_out = out; a single neuron's weight (in,) has
    fan_in = in, fan_out = 1; a convolution weight (out, in, k...) multiplies both by the kernel size.
    """
    shape = param.shape
    if len(shape) == 0:
        raise ValueError(
            "Cannot compute fan_in/fan_out of a scalar parameter (a bias): use zeros_ or constant_."
        )
    if len(shape) == 1:
        return shape[0], 1
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _fill(param: Tensor, values: np.ndarray) -> Tensor:
    if not isinstance(param, Tensor):
        raise TypeError(
            f"init functions fill a biograd Parameter or Tensor in place; got {type(param).__name__}."
        )
    dtype = param.data.dtype if param.data.dtype.kind == "f" else np.float32
    param.data = np.asarray(values, dtype=dtype).reshape(param.shape)
    return param


def _check_mode(mode: str) -> str:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"The 'mode' parameter must be 'fan_in' or 'fan_out'. Got {mode!r} instead.")
    return mode


def uniform_(param: Tensor, low: float = 0.0, high: float = 1.0, seed: Any = None) -> Tensor:
    """Fill with draws from U(low, high): variance (high - low)^2 / 12."""
    return _fill(param, get_generator(seed).uniform(low, high, size=param.shape))


def normal_(param: Tensor, mean: float = 0.0, std: float = 1.0, seed: Any = None) -> Tensor:
    """Fill with draws from N(mean, std^2)."""
    return _fill(param, get_generator(seed).normal(mean, std, size=param.shape))


def constant_(param: Tensor, value: float) -> Tensor:
    """Fill with one value."""
    return _fill(param, np.full(param.shape, value))


def zeros_(param: Tensor) -> Tensor:
    """Fill with 0 (the usual start for biases)."""
    return constant_(param, 0.0)


def ones_(param: Tensor) -> Tensor:
    """Fill with 1."""
    return constant_(param, 1.0)


def xavier_uniform_(param: Tensor, gain: float = 1.0, seed: Any = None) -> Tensor:
    """Xavier/Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)),
    so Var(w) = gain^2 * 2 / (fan_in + fan_out). For tanh, sigmoid and linear layers."""
    fan_in, fan_out = _calculate_fans(param)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(param, -bound, bound, seed=seed)


def xavier_normal_(param: Tensor, gain: float = 1.0, seed: Any = None) -> Tensor:
    """Xavier/Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fans(param)
    return normal_(param, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), seed=seed)


def kaiming_uniform_(
    param: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "relu", seed: Any = None
) -> Tensor:
    """He/Kaiming uniform: U(-b, b) with b = gain * sqrt(3 / fan), so Var(w) = gain^2 / fan.

    gain = calculate_gain(nonlinearity, a) (sqrt(2) for ReLU; ``a`` is a leaky ReLU's slope);
    fan = fan_in (default: steady forward signal) or fan_out (steady backward gradients).
    """
    fan = _calculate_fans(param)[0 if _check_mode(mode) == "fan_in" else 1]
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(param, -bound, bound, seed=seed)


def kaiming_normal_(
    param: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "relu", seed: Any = None
) -> Tensor:
    """He/Kaiming normal: N(0, std^2) with std = gain / sqrt(fan) (sqrt(2 / fan_in) for ReLU)."""
    fan = _calculate_fans(param)[0 if _check_mode(mode) == "fan_in" else 1]
    return normal_(param, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan), seed=seed)


def pytorch_default_(weight: Tensor, bias: Tensor | None = None, seed: Any = None) -> None:
    """PyTorch's default for Linear layers: weights and biases from U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    (PyTorch writes it as kaiming_uniform_ with a = sqrt(5), which gives this same bound.)
    """
    gen = get_generator(seed)
    fan_in = _calculate_fans(weight)[0]
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    uniform_(weight, -bound, bound, seed=gen)
    if bias is not None:
        uniform_(bias, -bound, bound, seed=gen)


def for_activation_(weight: Tensor, bias: Tensor | None, activation: str | None, seed: Any = None) -> None:
    """biograd's default when a layer knows the activation that follows it.

    ReLU family (relu, leaky_relu, gelu): He/Kaiming uniform with that activation's gain.
    Everything else (tanh, sigmoid, softmax, identity/none): Xavier/Glorot uniform with gain 1, as in
    Glorot & Bengio (2010) and Keras. Biases start at 0.
    """
    name = (activation or "identity").lower()
    if name in ("relu", "gelu"):
        kaiming_uniform_(weight, nonlinearity="relu", seed=seed)
    elif name == "leaky_relu":
        kaiming_uniform_(weight, a=0.01, nonlinearity="leaky_relu", seed=seed)
    else:
        xavier_uniform_(weight, gain=1.0, seed=seed)
    if bias is not None:
        zeros_(bias)


__all__ = [
    "calculate_gain",
    "constant_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]
