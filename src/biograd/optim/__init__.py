"""Optimizers: the rules that turn gradients into better weights.

Backpropagation gives dL/dw, how the loss L changes when a weight w changes. Gradient descent then takes a
small step downhill::

    w <- w - lr * dL/dw

``lr`` (the learning rate) sets the step size. Every optimizer here starts from that rule and changes how
the step is taken: :class:`SGD` adds momentum (a running average of past steps), :class:`Adam` and
:class:`RMSprop` give each weight its own step size from running averages of its gradients, and
:class:`AdamW` shrinks the weights directly (decoupled weight decay). The formulas are PyTorch's, to the
last rounding step where that costs nothing, and the tests check 20 training steps against PyTorch.

A training step::

    optimizer = biograd.optim.Adam(model.parameters(), lr=1e-3)
    for xb, yb in loader:
        optimizer.zero_grad()          # forget the last step's gradients (they accumulate otherwise)
        loss = loss_fn(model(xb), yb)
        loss.backward()                # dL/dw for every weight, in p.grad
        optimizer.step()               # w <- w - lr * (the optimizer's version of dL/dw)

Updates happen in place on ``p.data`` (the arrays keep their identity and dtype, float32 by default) and
reuse scratch arrays, because this runs once per batch. A parameter whose ``.grad`` is None (it took no
part in the loss) is skipped. Note that in-place means a parameter that shares memory with one of your
numpy arrays changes that array too (``Module.load_state_dict`` always copies, so loaded weights are safe).

Learning-rate schedulers (:class:`StepLR`, :class:`ReduceLROnPlateau`) change ``optimizer.lr`` during
training; :func:`create` builds an optimizer from its name (``"adam"``, ``"sgd"``, ...).

One file per concept:

- :mod:`~biograd.optim.base`: :class:`Optimizer`, what every rule shares (parameters, state, saving it),
  the checks of the arguments and the in-place numpy kernels.
- :mod:`~biograd.optim.sgd`: :class:`SGD`, gradient descent with momentum.
- :mod:`~biograd.optim.adam`: :class:`Adam` and :class:`AdamW`.
- :mod:`~biograd.optim.rmsprop`: :class:`RMSprop`.
- :mod:`~biograd.optim.schedulers`: :class:`StepLR` and :class:`ReduceLROnPlateau`.
- here: :func:`create` and :func:`optimizer_names`, an optimizer from its name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from biograd.optim.adam import Adam, AdamW
from biograd.optim.base import Optimizer
from biograd.optim.rmsprop import RMSprop
from biograd.optim.schedulers import ReduceLROnPlateau, StepLR
from biograd.optim.sgd import SGD
from biograd.tensor import Tensor

__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "Optimizer",
    "RMSprop",
    "ReduceLROnPlateau",
    "StepLR",
    "create",
    "optimizer_names",
]

_OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop}


def optimizer_names() -> list[str]:
    """The names :func:`create` understands."""
    return list(_OPTIMIZERS)


def create(
    name_or_optimizer: str | type[Optimizer] | Optimizer,
    params: Iterable[Tensor],
    lr: float | None = None,
    **kwargs: Any,
) -> Optimizer:
    """An optimizer from its name: ``"sgd"``, ``"adam"``, ``"adamw"`` or ``"rmsprop"`` (any case).

    Args:
        name_or_optimizer: a name, an optimizer class (e.g. ``biograd.optim.Adam``), or an optimizer
            object (returned unchanged; ``lr`` and other settings must then be None/absent).
        params: the parameters to optimize, e.g. ``model.parameters()``.
        lr: the learning rate; None means the optimizer's default (SGD 0.01, Adam/AdamW 0.001,
            RMSprop 0.01).
        **kwargs: other settings of that optimizer, e.g. ``momentum=0.9`` for SGD.

    >>> opt = biograd.optim.create("adam", model.parameters(), lr=3e-4)   # doctest: +SKIP
    """
    settings = dict(kwargs)
    if lr is not None:
        settings["lr"] = lr
    if isinstance(name_or_optimizer, Optimizer):
        if settings:
            raise ValueError(
                f"create() got an optimizer object ({type(name_or_optimizer).__name__}) and settings "
                f"({', '.join(settings)}); set them when creating the optimizer, or pass its name instead."
            )
        return name_or_optimizer
    if isinstance(name_or_optimizer, type) and issubclass(name_or_optimizer, Optimizer):
        cls = name_or_optimizer
    elif isinstance(name_or_optimizer, str):
        cls = _OPTIMIZERS.get(name_or_optimizer.strip().lower())
        if cls is None:
            raise ValueError(
                f"Unknown optimizer {name_or_optimizer!r}. Valid names: {', '.join(map(repr, _OPTIMIZERS))}."
            )
    else:
        raise TypeError(
            "The 'name_or_optimizer' parameter of create must be a name "
            f"({', '.join(map(repr, _OPTIMIZERS))}), an optimizer class or an optimizer. "
            f"Got {name_or_optimizer!r} instead."
        )
    try:
        return cls(params, **settings)
    except TypeError as err:
        if "unexpected keyword argument" not in str(err):
            raise
        import inspect

        valid = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "params")]
        unknown = [k for k in settings if k not in valid]
        raise TypeError(
            f"{cls.__name__} has no setting {', '.join(map(repr, unknown))}. Its settings are: "
            f"{', '.join(valid)}."
        ) from None
