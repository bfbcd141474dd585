"""Module and Parameter: the containers networks are built from (PyTorch's API, readable inside).

A :class:`Parameter` is a tensor the network learns (a weight or a bias). A :class:`Module` is anything
with a ``forward``: a neuron, a layer, a whole network. Assigning a Parameter or a Module to an attribute
registers it, so ``parameters()`` finds every weight, ``state_dict()`` names them (``"0.weight"``), and
``train()``/``eval()`` reach every layer.

>>> class TwoLayers(Module):                       # doctest: +SKIP
...     def __init__(self):
...         super().__init__()
...         self.hidden = Linear(4, 8)              # registered as "hidden"
...         self.out = Linear(8, 1)
...     def forward(self, x):
...         return self.out(self.hidden(x).relu())
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from biograd.errors import ShapeError
from biograd.tensor import Tensor


class Parameter(Tensor):
    """A learnable tensor: ``requires_grad=True`` and float32 by default; registered by its Module."""

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None, name: str | None = None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype, name=name)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of every layer and network: subclass it and write ``forward``.

    Calling the module (``model(x)``) runs ``forward(x)``. Models start in training mode.
    """

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    # -- registration by assignment ----------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}.__init__ must call super().__init__() before assigning attributes."
            )
        params, modules = self.__dict__["_parameters"], self.__dict__["_modules"]
        params.pop(name, None)
        modules.pop(name, None)
        if isinstance(value, Parameter):
            params[name] = value
        elif isinstance(value, Module):
            modules[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    def register_parameter(self, name: str, value: Parameter | None) -> None:
        """Register a parameter under ``name``; ``None`` records an absent one (e.g. ``bias=False``)."""
        if value is None:
            self._parameters.pop(name, None)
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, value)

    def add_module(self, name: str, module: Module) -> None:
        setattr(self, name, module)

    # -- running -----------------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward().")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # -- walking the tree --------------------------------------------------------------------------
    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) for every parameter, e.g. ``("0.weight", ...)``; each listed once."""
        seen: set[int] = set()
        for module_name, module in self.named_modules(prefix):
            for name, p in module._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{module_name}.{name}" if module_name else name), p

    def parameters(self) -> Iterator[Parameter]:
        for _, p in self.named_parameters():
            yield p

    def named_children(self) -> Iterator[tuple[str, Module]]:
        yield from self._modules.items()

    def children(self) -> Iterator[Module]:
        yield from self._modules.values()

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every sub-module, depth first, with dotted names ("" for the root)."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module._modules.items()]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def num_parameters(self) -> int:
        """How many numbers the network learns: every weight and every bias."""
        return int(sum(p.data.size for p in self.parameters()))

    # -- modes -------------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active). Returns self."""
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode (dropout off): use it for predictions. Returns self."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Forget the gradients of the last backward pass (they accumulate otherwise)."""
        for p in self.parameters():
            p.grad = None

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    # -- saving and loading weights ----------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Every parameter as a copy of its array, by dotted name (PyTorch's keys: ``"0.weight"``)."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> dict[str, list[str]]:
        """Copy weights in by name. Accepts numpy arrays, biograd tensors, or anything ``np.asarray``
        reads (so a PyTorch state_dict converted with ``.numpy()`` loads as is).

        Raises a ShapeError naming the parameter and both shapes, and (with ``strict``) a KeyError listing
        missing and unexpected keys. Returns ``{"missing_keys": [...], "unexpected_keys": [...]}``.
        """
        own = dict(self.named_parameters())
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(f"missing keys: {', '.join(missing)}")
            if unexpected:
                parts.append(f"unexpected keys: {', '.join(unexpected)}")
            raise KeyError(
                f"load_state_dict for {type(self).__name__}: {'; '.join(parts)}. The saved weights come "
                "from a different architecture (or pass strict=False to load the keys that match)."
            )
        arrays = {}
        for name, p in own.items():
            if name not in state:
                continue
            value = state[name]
            arr = np.asarray(value.data if isinstance(value, Tensor) else value)
            if arr.shape != p.data.shape:
                raise ShapeError(
                    f"load_state_dict: parameter {name!r} has shape {p.data.shape} in the model but "
                    f"{arr.shape} in the state dict."
                )
            arrays[name] = arr
        for name, arr in arrays.items():  # copy only once every shape has been checked
            own[name].data = arr.astype(own[name].data.dtype, copy=True)
        return {"missing_keys": missing, "unexpected_keys": unexpected}

    # -- dtype -------------------------------------------------------------------------------------
    def to(self, dtype: Any) -> Module:
        """Convert every parameter to ``dtype`` in place (e.g. ``np.float64`` for exact comparisons with
        PyTorch in double precision). Returns self. Gradients are dropped."""
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"Module.to() needs a floating-point dtype (float32 or float64); got {dtype}.")
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            p.grad = None
        return self

    def double(self) -> Module:
        """Parameters in float64 (``to(np.float64)``). Returns self."""
        return self.to(np.float64)

    def float(self) -> Module:
        """Parameters in float32 (``to(np.float32)``), biograd's default. Returns self."""
        return self.to(np.float32)

    # -- architecture as data (for saving models without pickle) -----------------------------------
    def get_config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this module, as a JSON-safe dict.

        Every built-in layer defines it; ``biograd.nn.to_config`` / ``from_config`` use it to save and
        rebuild architectures. A custom module has none until you write one.
        """
        name = type(self).__name__
        raise TypeError(
            f"{name} is a custom module without get_config(), so biograd cannot save its architecture. "
            f"To make it saveable, give {name} a get_config() method returning its constructor arguments "
            f"as a dict of numbers, strings and lists (so that {name}(**config) rebuilds it), and decorate "
            f"the class with @biograd.nn.register_layer. Alternatively save only the weights with "
            f"model.state_dict() and rebuild the model in code."
        )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Module:
        """Rebuild a module from ``get_config()``'s dict: ``cls(**config)`` unless a layer says otherwise."""
        return cls(**config)

    # -- display -----------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr, e.g. ``in_features=4, out_features=8``."""
        return ""

    def __repr__(self) -> str:
        children = list(self._modules.items())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, child in children:
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_repr}")
        lines.append(")")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """Notebook display: the layers (as the repr) and how many numbers the network learns."""
        import html

        count = f"{self.num_parameters():,} parameters"
        return f"<pre>{html.escape(repr(self))}</pre><small>{count}</small>"

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: never return None for a typo.
        options = sorted(set(self.__dict__.get("_parameters", {})) | set(self.__dict__.get("_modules", {})))
        hint = f" It has: {', '.join(options)}." if options else ""
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}.{hint}")


# --------------------------------------------------------------------------------------------------
# Layer registry: architectures saved as {"type": class name, "config": constructor arguments}
# --------------------------------------------------------------------------------------------------

_LAYERS: dict[str, type[Module]] = {}


def register_layer(cls: type[Module]) -> type[Module]:
    """Class decorator: let ``from_config`` rebuild layers of this class from their saved config.

    >>> @register_layer                                 # doctest: +SKIP
    ... class Scale(Module):
    ...     def __init__(self, factor: float = 2.0):
    ...         super().__init__()
    ...         self.factor = factor
    ...     def forward(self, x):
    ...         return x * self.factor
    ...     def get_config(self):
    ...         return {"factor": self.factor}
    """
    if not (isinstance(cls, type) and issubclass(cls, Module)):
        raise TypeError(f"register_layer() decorates Module subclasses; got {cls!r}.")
    known = _LAYERS.get(cls.__name__)
    builtin_taken = known is not None and known is not cls and known.__module__.startswith("biograd.")
    if builtin_taken and not cls.__module__.startswith("biograd."):
        raise ValueError(
            f"A built-in biograd layer is already called {cls.__name__!r}; give your class another name."
        )
    _LAYERS[cls.__name__] = cls
    return cls


def registered_layers() -> list[str]:
    """Names of the layer classes ``from_config`` can rebuild."""
    return sorted(_LAYERS)


def to_config(module: Module) -> dict[str, Any]:
    """The architecture of ``module`` as JSON-safe data: ``{"type": class name, "config": {...}}``.

    Containers (Sequential, MLP) nest the configs of their layers. Weights are not included: save them
    with ``module.state_dict()``.

    >>> to_config(Linear(3, 2))                          # doctest: +SKIP
    {'type': 'Linear', 'config': {'in_features': 3, 'out_features': 2, 'bias': True, 'init': 'pytorch'}}
    """
    if not isinstance(module, Module):
        raise TypeError(f"to_config() needs a biograd Module; got {type(module).__name__}.")
    name = type(module).__name__
    config = module.get_config()
    if _LAYERS.get(name) is not type(module):
        raise TypeError(
            f"{name} has a get_config() but is not registered, so it could not be rebuilt when loading. "
            f"Decorate the class with @biograd.nn.register_layer (and import the file that defines it "
            f"before loading)."
        )
    return {"type": name, "config": config}


def from_config(config: Mapping[str, Any]) -> Module:
    """Rebuild a module (with fresh weights) from ``to_config``'s dict; load weights afterwards."""
    if not isinstance(config, Mapping) or "type" not in config:
        raise ValueError(
            "from_config() needs a dict like {'type': 'Linear', 'config': {...}} as made by to_config(); "
            f"got {str(config)[:80]!r}."
        )
    name = config["type"]
    cls = _LAYERS.get(name)
    if cls is None:
        raise ValueError(
            f"Unknown layer type {name!r}. Known layers: {', '.join(registered_layers())}. If it is your own "
            "class, decorate it with @biograd.nn.register_layer and import it before loading."
        )
    kwargs = dict(config.get("config", {}))
    try:
        return cls.from_config(kwargs)
    except TypeError as err:
        raise TypeError(f"Could not rebuild {name} from config {kwargs}: {err}") from None
