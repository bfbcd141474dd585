"""A training step recorded once and replayed: the same ops' forward and backward calls, without the graph.

An eager training step (``optimizer.zero_grad(); loss_fn(model(x), y).backward(); optimizer.step()``)
builds a graph every time: a Tensor per op, a node per Tensor, a heap and a dictionary in ``backward()``,
one optimizer call per parameter. On small networks that bookkeeping costs more than the arithmetic.
:func:`record_step` runs the first step eagerly, exactly as above, and keeps what it did as a *tape*:

- **forward**: the list of ops the model ran, each with the slots its inputs came from (the batch ``x``,
  a parameter, an earlier op's output, a constant, a fresh dropout mask);
- **loss**: the loss of the model's output against ``y`` (the fused cross-entropy node is replayed with the
  new labels; any other loss function runs eagerly on the output, so every loss works);
- **backward**: the same ops' ``backward`` calls in reverse order, each passing dL/d(output) to the inputs
  that need it: the chain rule, with the derivative of each op still living in :mod:`biograd.ops`;
- **update**: the optimizer's own rule applied once to one flat array holding every parameter (the
  built-in rules are elementwise, so the numbers are those of one update per parameter).

The following steps *replay* the tape: straight-line calls of ``op.forward`` and ``op.backward`` on numpy
arrays, no Tensor objects, no graph. ``print(step)`` shows the tape as the chain rule, the way
``biograd.trace()`` shows one backward pass.

>>> step = biograd.record_step(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters()))  # doctest: +SKIP
>>> for xb, yb in loader:                                                   # doctest: +SKIP
...     loss = step(xb, yb)          # forward, loss, backward, update; returns the loss as a float
>>> print(step)                                                             # doctest: +SKIP

What a recorded step may contain:

- any model made of biograd's layers and functions whose ops are elementwise math, matrix products,
  ``Linear``, ``Conv1d``, pooling, reductions, reshapes, transposes, concatenation and slicing with
  numbers or slices (every layer in :mod:`biograd.nn`: Linear, activations, Dropout, Conv1d, MaxPool1d,
  GlobalMaxPool1d, Flatten, Neuron, MLP, Sequential);
- dropout (a new random mask every step, drawn from biograd's generator exactly as the eager step draws
  it, so a seeded run gives the same weights recorded or not);
- any loss function of the model's output and ``y``; any built-in optimizer (SGD with momentum, Nesterov
  and weight decay, Adam, AdamW, RMSprop) and learning-rate schedulers (the rate is read every step).

What it may not contain, and what happens then (the step runs eagerly, as if not recorded; the reason is in
``step.reason``):

- indexing with arrays, ``biograd.where``, or tensors and arrays made inside ``forward`` from the data
  (their values would be frozen at the recorded step); a loss that reaches parameters or inner
  activations of the model other than its output (e.g. a weight penalty written into the loss);
- a Python number computed from the batch's values inside ``forward`` (``x / float(x.data.std())``): it
  cannot be seen from the outside and would be replayed frozen. Do not record such a model.

Whenever something differs from the recorded step the step runs eagerly instead: other shapes or dtypes
of ``x`` or ``y`` (the short last batch of an epoch), a parameter replaced or its ``requires_grad``
changed (``load_state_dict``, ``model.to(...)``), a module added or replaced, ``train()``/``eval()``
switched, a ``forward`` set on a module instance (a hook), gradients switched off (``no_grad``), a
``biograd.trace()`` recording, or an optimizer state loaded. After a model or optimizer change the next step
records again; a new batch shape seen ``rerecord_after`` times in a row is recorded in place of the old one.

While recorded, every parameter's ``.data`` is a view into one flat array (same values, same shapes) and
``.grad`` a view into one flat gradient array, and the optimizer's running averages are views into flat
arrays too, so eager steps, ``state_dict()`` and ``load_state_dict()`` keep working on them.

One file per part:

- :mod:`~biograd.record.step`: :class:`RecordedStep` (record, replay or run eagerly; the flat arrays; the
  update) and :func:`record_step`.
- :mod:`~biograd.record.tape`: the tape's entries (forward, backward, loss) and how one eager step becomes a
  tape.
- :mod:`~biograd.record.codegen`: the tape as one straight-line Python function (``step.code``).
- :mod:`~biograd.record.threads`: :func:`blas_threads_for`, one BLAS thread while every product is small.
"""

from biograd.record.step import RecordedStep, record_step
from biograd.record.threads import SMALL_PRODUCT, blas_threads_for, largest_product

__all__ = ["SMALL_PRODUCT", "RecordedStep", "blas_threads_for", "largest_product", "record_step"]
