"""``biograd.summary(model, input_shape)``: what a network is made of, layer by layer.

For each layer: its output shape (found by running the model once on zeros), its weights, biases and
parameters; then the totals of neurons and of parameters, and the memory the parameters take.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from biograd.nn.module import Module
from biograd.tensor import Tensor, no_grad


@dataclass
class LayerSummary:
    """One row of a :class:`Summary`."""

    name: str
    type: str
    output_shape: tuple[int, ...] | None
    weights: int
    biases: int
    neurons: int

    @property
    def parameters(self) -> int:
        return self.weights + self.biases


@dataclass
class Summary:
    """The result of :func:`summary`: ``str(s)`` is a table, attributes hold the numbers.

    ``total_parameters`` = ``total_weights`` + ``total_biases``; ``total_neurons`` counts the output units
    of layers with weights (a Linear(4, 16) has 16 neurons and 4*16 + 16 = 80 parameters).
    """

    model_type: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...] | None
    layers: list[LayerSummary] = field(default_factory=list)
    total_parameters: int = 0
    trainable_parameters: int = 0
    total_weights: int = 0
    total_biases: int = 0
    total_neurons: int = 0
    memory_bytes: int = 0

    @property
    def explanation(self) -> str:
        """Why the numbers of neurons and parameters differ."""
        return (
            f"{self.total_neurons:,} neurons but {self.total_parameters:,} parameters: parameters = "
            f"weights ({self.total_weights:,}) + biases ({self.total_biases:,}). Each neuron has one weight "
            "per input it receives plus one bias, so parameters grow with (inputs x neurons), "
            "not with neurons alone."
        )

    def _rows(self) -> list[tuple[str, ...]]:
        rows = [("Layer", "Type", "Output shape", "Weights", "Biases", "Parameters")]
        for layer in self.layers:
            shape = "?" if layer.output_shape is None else _fmt_shape(layer.output_shape)
            rows.append(
                (
                    layer.name,
                    layer.type,
                    shape,
                    f"{layer.weights:,}",
                    f"{layer.biases:,}",
                    f"{layer.parameters:,}",
                )
            )
        return rows

    def _footer(self) -> list[str]:
        return [
            f"Input shape: {_fmt_shape(self.input_shape)} (N = samples in a batch)",
            f"Total neurons: {self.total_neurons:,}",
            f"Total parameters: {self.total_parameters:,} (trainable: {self.trainable_parameters:,})",
            f"Memory for parameters: {_fmt_bytes(self.memory_bytes)}",
            self.explanation,
        ]

    def __str__(self) -> str:
        rows = self._rows()
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        right = {3, 4, 5}

        def fmt(row: tuple[str, ...]) -> str:
            return "  ".join(
                c.rjust(w) if i in right else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )

        line = "-" * len(fmt(rows[0]))
        body = [f"{self.model_type} summary", line, fmt(rows[0]), line, *map(fmt, rows[1:]), line]
        return "\n".join(body + self._footer())

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        import html  # only in notebooks: not worth its import time for every `import biograd`

        rows = self._rows()
        head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows[1:]
        )
        foot = "".join(f"<p>{html.escape(t)}</p>" for t in self._footer())
        return (
            f"<div><strong>{html.escape(self.model_type)} summary</strong>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{foot}</div>"
        )


def _fmt_shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(["N", *map(str, shape[1:])]) + ("," if len(shape) == 1 else "") + ")"


def _fmt_bytes(n: int) -> str:
    if n < 1024:
        return f"{n:,} bytes"
    if n < 1024**2:
        return f"{n:,} bytes ({n / 1024:.1f} KiB)"
    return f"{n:,} bytes ({n / 1024**2:.1f} MiB)"


def _neurons(module: Module) -> int:
    """Output units of a layer with weights: rows of its weight matrix (1 for a single Neuron)."""
    weight = module._parameters.get("weight")
    if weight is None:
        return 0
    return 1 if weight.ndim < 2 else int(weight.shape[0])


def summary(model: Module, input_shape: Any, batch_size: int = 1) -> Summary:
    """Describe ``model``: per layer the output shape, weights, biases and parameters, plus totals.

    ``input_shape`` is the shape of ONE sample, without the batch axis (``(30,)`` or ``30`` for 30
    features, ``(4, 100)`` for a one-hot DNA sequence). The model runs once on zeros of shape
    (batch_size, *input_shape), in eval mode and without recording gradients; its mode is restored afterwards.

    >>> s = biograd.summary(biograd.nn.MLP([30, 16, 1]), (30,))      # doctest: +SKIP
    >>> s.total_parameters, s.total_neurons
    (513, 17)
    >>> print(s)
    """
    if not isinstance(model, Module):
        raise TypeError(f"summary() needs a biograd Module; got {type(model).__name__}.")
    input_shape = (int(input_shape),) if np.isscalar(input_shape) else tuple(int(n) for n in input_shape)
    params = list(model.parameters())
    dtype = params[0].data.dtype if params else np.float32

    listed: list[tuple[str, Module]] = []
    for name, module in model.named_modules():
        if not module._modules or module._parameters:
            listed.append((name or type(module).__name__, module))

    shapes: dict[int, tuple[int, ...]] = {}

    def recording(module: Module):
        original = module.forward

        def forward(*args: Any, **kwargs: Any) -> Any:
            out = original(*args, **kwargs)
            if isinstance(out, Tensor):
                shapes[id(module)] = out.shape
            return out

        return forward

    was_training = {id(m): m.training for m in model.modules()}
    for _, module in listed:
        object.__setattr__(module, "forward", recording(module))
    try:
        model.eval()
        with no_grad():
            out = model(Tensor(np.zeros((batch_size, *input_shape), dtype=dtype)))
    finally:
        for _, module in listed:
            module.__dict__.pop("forward", None)
        for m in model.modules():
            object.__setattr__(m, "training", was_training[id(m)])

    rows = []
    for name, module in listed:
        weights = sum(p.data.size for n, p in module._parameters.items() if p is not None and n != "bias")
        biases = sum(p.data.size for n, p in module._parameters.items() if p is not None and n == "bias")
        rows.append(
            LayerSummary(
                name,
                type(module).__name__,
                shapes.get(id(module)),
                int(weights),
                int(biases),
                _neurons(module),
            )
        )
    named = list(model.named_parameters())
    total_biases = sum(p.data.size for n, p in named if n.rsplit(".", 1)[-1] == "bias")
    total = sum(p.data.size for _, p in named)
    return Summary(
        model_type=type(model).__name__,
        input_shape=(batch_size, *input_shape),
        output_shape=out.shape if isinstance(out, Tensor) else None,
        layers=rows,
        total_parameters=int(total),
        trainable_parameters=int(sum(p.data.size for _, p in named if p.requires_grad)),
        total_weights=int(total - total_biases),
        total_biases=int(total_biases),
        total_neurons=int(sum(r.neurons for r in rows)),
        memory_bytes=int(sum(p.data.nbytes for _, p in named)),
    )
