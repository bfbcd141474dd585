"""biograd: deep learning from first principles, for biologists.

A glass-box engine: tensors that compute their own gradients by the chain rule (``biograd.tensor``,
``backward()``), a step-by-step record of backpropagation (``biograd.trace()``), and a finite-difference
checker (``biograd.gradcheck``). Networks, training, pictures and biology build on these.
"""

from biograd import data, functional, nn, optim
from biograd.errors import GradcheckError, ShapeError
from biograd.gradcheck import GradcheckReport, gradcheck
from biograd.io import ModelFileError, load, save
from biograd.nn.summary import Summary, summary
from biograd.random import manual_seed
from biograd.tensor import (
    Tensor,
    abs,
    add,
    arange,
    as_tensor,
    cat,
    clamp,
    clip,
    concatenate,
    cos,
    div,
    enable_grad,
    erf,
    exp,
    is_grad_enabled,
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
    no_grad,
    ones,
    ones_like,
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
    tensor,
    transpose,
    var,
    where,
    zeros,
    zeros_like,
)
from biograd.tracing import Step, Trace
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

__version__ = "0.1.0"


# Sub-packages that need matplotlib, pandas or scikit-learn: imported on first use (``biograd.viz``), so
# ``import biograd`` stays quick and light.
_LAZY_MODULES = ("viz", "datasets", "bio", "explain", "pipeline", "report", "sklearn", "interop", "tour")


def __getattr__(name: str):
    if name in _LAZY_MODULES:
        import importlib

        return importlib.import_module(f"biograd.{name}")
    raise AttributeError(f"module 'biograd' has no attribute {name!r}")


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
