"""One neuron or one weight of a playground network, every number of the current step: the forward values
on one sample, delta = dL/dz, the batch's dL/dw from ``loss.backward()`` and the optimizer's update; and the
``biograd.viz.backprop`` stepper for one sample of that batch."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np

from biograd import nn
from biograd.playground.settings import SettingsError
from biograd.tensor import Tensor

if TYPE_CHECKING:
    from biograd.playground.session import Session


def inspect(
    session: Session, layer: int, neuron: int, source: int | None = None, sample: int = 0
) -> dict[str, Any]:
    """For neuron ``neuron`` of Linear layer ``layer`` (0 = the first hidden layer), or for the weight
    from ``source`` (a neuron of the layer below, or an input) into it: the forward values z and a on one
    sample of the batch, its delta dL/dz, the batch's dL/dw (or dL/db) from ``loss.backward()``, and the
    optimizer's update, on a copy of the network (eval mode: dropout off), at the current weights."""
    with session.locked():
        if not 0 <= layer < len(session.linears):
            raise SettingsError(
                f"There is no layer {layer}; the network has {len(session.linears)} layers of weights."
            )
        lin = session.linears[layer]
        if not 0 <= neuron < lin.out_features:
            raise SettingsError(f"Layer {layer} has {lin.out_features} neurons; there is no neuron {neuron}.")
        if source is not None and not 0 <= source < lin.in_features:
            raise SettingsError(f"Layer {layer} has {lin.in_features} inputs; there is no input {source}.")
        rows = session.inspection_rows()
        sample = min(max(int(sample), 0), len(rows) - 1)
        work, opt = copy.deepcopy((session.model, session.opt))
        work.eval()
        work.zero_grad()
        modules = list(work)
        h = Tensor(session.x_train[rows])
        inputs, zs, acts = [], [], []
        for m in modules:
            if isinstance(m, nn.Linear):
                inputs.append(h)
                h = m(h)
                h.retain_grad()
                zs.append(h)
                acts.append(h)
            elif isinstance(m, nn.Dropout):
                continue
            else:
                h = m(h)
                h.retain_grad()
                acts[-1] = h
        data_loss = session.loss_fn(h, Tensor(session.y_train[rows]))
        extra = session.penalty(work)
        total = data_loss if extra is None else data_loss + extra
        total.backward()
        wl = [m for m in modules if isinstance(m, nn.Linear)][layer]
        z, a = zs[layer], acts[layer]
        delta = np.asarray(z.grad, np.float64)[:, neuron]
        info: dict[str, Any] = {
            "layer": layer,
            "neuron": neuron,
            "rows": rows.astype(int).tolist(),
            "batch_size": len(rows),
            "sample": sample,
            "sample_row": int(rows[sample]),
            "x_sample": session.x_train[rows[sample]].astype(np.float64).tolist(),
            "z": float(z.data[sample, neuron]),
            "a": float(a.data[sample, neuron]),
            "dL_da": None if a.grad is None else float(a.grad[sample, neuron]),
            "delta": float(delta[sample]),
            "delta_sum": float(delta.sum()),
            "activation": "identity" if a is z else type(modules[modules.index(wl) + 1]).__name__,
            "loss": float(total.item()),
            "data_loss": float(data_loss.item()),
            "lr": session.settings.lr,
            "optimizer": session.settings.optimizer,
            "regularization": session.settings.regularization,
            "reg_rate": session.settings.reg_rate,
        }
        if source is None:
            param, grad = wl.bias, float(wl.bias.grad[neuron])
            index: tuple[int, ...] = (neuron,)
            info["kind"] = "bias"
            info["data_part"] = float(delta.sum())
            info["penalty_part"] = 0.0
        else:
            param, grad = wl.weight, float(wl.weight.grad[neuron, source])
            index = (neuron, source)
            a_in = np.asarray(inputs[layer].data, np.float64)[:, source]
            w = float(wl.weight.data[neuron, source])
            info["kind"] = "weight"
            info["source"] = source
            info["input_sample"] = float(a_in[sample])
            info["data_part"] = float((delta * a_in).sum())
            reg = session.settings.regularization if session.settings.reg_rate else "none"
            info["penalty_part"] = (
                session.settings.reg_rate * w
                if reg == "l2"
                else session.settings.reg_rate * float(np.sign(w))
                if reg == "l1"
                else 0.0
            )
        before = float(param.data[index])
        opt.step()
        info.update(
            value=before,
            grad=grad,
            plain_update=before - session.settings.lr * grad,
            after=float(param.data[index]),
        )
        return info


def backprop_page(session: Session, sample: int = 0) -> str:
    """``biograd.viz.backprop`` for one sample of the inspected batch (its data loss, plain gradient
    descent with the current lr): the step-by-step page."""
    from biograd.viz import backprop

    with session.locked():
        rows = session.inspection_rows()
        row = int(rows[min(max(int(sample), 0), len(rows) - 1)])
        y = session.y_train[row]
        steps = backprop(
            session.model,
            session.x_train[row],
            y if y.ndim else np.array([y]),
            session.loss_fn,
            lr=session.settings.lr,
            title=f"One step on training row {row} (the playground's current weights)",
        )
        return steps.to_html()
