"""biograd: deep learning from first principles, for biologists.

A glass-box engine: tensors that compute their own gradients by the chain rule (``biograd.tensor``,
``backward()``), a step-by-step record of backpropagation (``biograd.trace()``), and a finite-difference
checker (``biograd.gradcheck``). Networks, training, pictures and biology build on these.
"""

from typing import TYPE_CHECKING

from biograd import data, functional, nn
from biograd._version import __version__
from biograd.errors import GradcheckError, ShapeError
from biograd.gradcheck import GradcheckReport, gradcheck
from biograd.random import manual_seed
from biograd.tensor import (
    Tensor,
    arange,
    as_tensor,
    enable_grad,
    is_grad_enabled,
    no_grad,
    ones,
    ones_like,
    tensor,
    zeros,
    zeros_like,
)
from biograd.tensor_functions import (
    abs,
    add,
    cat,
    clamp,
    clip,
    concatenate,
    cos,
    div,
    erf,
    exp,
    leaky_relu,
    linear,
    log,
    log_softmax,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mul,
    permute,
    pow,
    relu,
    reshape,
    sigmoid,
    sin,
    softmax,
    softplus,
    sqrt,
    stack,
    sub,
    sum,
    tanh,
    transpose,
    var,
    where,
)
from biograd.tracing import Step, Trace

if TYPE_CHECKING:  # for type checkers and editors; at run time these load on first use (below)
    from biograd import optim
    from biograd.io import ModelFileError, load, save
    from biograd.nn.summary import Summary, summary
    from biograd.record import RecordedStep, record_step
    from biograd.training import (
        Callback,
        Diagnosis,
        EarlyStopping,
        History,
        ModelCheckpoint,
        ProgressBar,
        evaluate,
        fit,
        predict,
        predict_proba,
    )


# Sub-packages that need matplotlib, pandas or scikit-learn: imported on first use (``biograd.viz``), so
# ``import biograd`` stays quick and light.
_LAZY_MODULES = (
    "optim",
    "viz",
    "datasets",
    "bio",
    "explain",
    "pipeline",
    "report",
    "sklearn",
    "interop",
    "tour",
    "playground",
    "stats",
)


# Training, saving and summaries: the module that defines each name is imported the first time the name
# is used (``biograd.fit(...)``), which keeps ``import biograd`` close to ``import numpy`` in time.
_LAZY_NAMES = {
    **dict.fromkeys(
        (
            "Callback",
            "Diagnosis",
            "EarlyStopping",
            "History",
            "ModelCheckpoint",
            "ProgressBar",
            "evaluate",
            "fit",
            "predict",
            "predict_proba",
        ),
        "biograd.training",
    ),
    **dict.fromkeys(("ModelFileError", "load", "save"), "biograd.io"),
    **dict.fromkeys(("Summary", "summary"), "biograd.nn.summary"),
    **dict.fromkeys(("RecordedStep", "record_step"), "biograd.record"),
}


def __getattr__(name: str):
    import importlib

    if name in _LAZY_MODULES:
        return importlib.import_module(f"biograd.{name}")
    if name in _LAZY_NAMES:
        value = getattr(importlib.import_module(_LAZY_NAMES[name]), name)
        globals()[name] = value  # later uses are plain attribute lookups
        return value
    raise AttributeError(f"module 'biograd' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY_MODULES, *_LAZY_NAMES})


def trace() -> Trace:
    """Record the next backward pass step by step (the chain rule with its numbers).

    >>> x = biograd.tensor(1.5, requires_grad=True, name="x")
    >>> y = (x**2).sin()
    >>> with biograd.trace() as t:
    ...     y.backward()
    >>> print(t)  # doctest: +SKIP
    """
    return Trace()


__all__ = [
    "Callback",
    "Diagnosis",
    "EarlyStopping",
    "GradcheckError",
    "GradcheckReport",
    "History",
    "ModelCheckpoint",
    "ModelFileError",
    "ProgressBar",
    "RecordedStep",
    "ShapeError",
    "Step",
    "Summary",
    "Tensor",
    "Trace",
    "__version__",
    "abs",
    "add",
    "arange",
    "as_tensor",
    "cat",
    "clamp",
    "clip",
    "concatenate",
    "cos",
    "data",
    "div",
    "enable_grad",
    "erf",
    "evaluate",
    "exp",
    "fit",
    "functional",
    "gradcheck",
    "is_grad_enabled",
    "leaky_relu",
    "linear",
    "load",
    "log",
    "log_softmax",
    "logsumexp",
    "manual_seed",
    "matmul",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "mul",
    "nn",
    "no_grad",
    "ones",
    "ones_like",
    "optim",
    "permute",
    "pow",
    "predict",
    "predict_proba",
    "record_step",
    "relu",
    "reshape",
    "save",
    "sigmoid",
    "sin",
    "softmax",
    "softplus",
    "sqrt",
    "stack",
    "sub",
    "sum",
    "summary",
    "tanh",
    "tensor",
    "trace",
    "transpose",
    "var",
    "where",
    "zeros",
    "zeros_like",
]
