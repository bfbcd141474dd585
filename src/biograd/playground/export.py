"""What the playground exports: a biograd script that reproduces the session, its PyTorch twin, the trained
model (``biograd.save``: safetensors + JSON, never pickle) and a self-contained HTML replay.

The script holds the data (the numbers as drawn, to the last digit), builds the network from the same seed,
and runs the session's training loop (see ``session.py``) with every change of a training setting at the
step where it was made, so it ends at the same training and test loss.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from biograd.playground import frames
from biograd.playground.settings import OPTIMIZERS
from biograd.viz.markup import Markup, html, script_json

if TYPE_CHECKING:
    from biograd.playground.session import Session

_ACT_CLASSES = {
    "relu": "ReLU",
    "tanh": "Tanh",
    "sigmoid": "Sigmoid",
    "leaky_relu": "LeakyReLU",
    "identity": "Identity",
}
_TORCH_LOSSES = {
    "bce_with_logits": "BCEWithLogitsLoss",
    "mse": "MSELoss",
    "l1": "L1Loss",
    "cross_entropy": "CrossEntropyLoss",
}


def _literal(values: Any) -> str:
    """Numbers as a Python literal that reads back to the same floats (repr is exact)."""
    return json.dumps(np.asarray(values).tolist())


def _string(text: str) -> str:
    """A user's string (column name, class label) as a safe Python literal."""
    return json.dumps(str(text), ensure_ascii=True)


_SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;_-+()/&")


def _comment(text: str) -> str:
    """A user's string inside a comment or docstring: one line of plain characters (no quotes, no
    backslashes, no newlines), so a file name can never end the docstring and become code."""
    return "".join(c if c in _SAFE else "?" for c in str(text))


def _common(session: Session) -> dict[str, Any]:
    """What both scripts share: the header facts, the data block and the schedule."""
    s, d = session.settings, session.data
    y_dtype = "np.int64" if d.task == "multiclass" else "np.float32"
    y_shape = "" if d.task == "multiclass" else ".reshape(-1, 1)"
    classes = "None" if d.classes is None else "[" + ", ".join(_string(c) for c in d.classes) + "]"
    schedule = {step: entry for step, entry in session.schedule if step < session.step_count or step == 0}
    data = f"""# The data: {_comment(d.description)}.
# Columns as plotted (the network sees them standardized with the training rows' mean and standard deviation).
FEATURES = [{", ".join(_string(f) for f in d.feature_names)}]
TARGET = {_string(d.target_name)}
CLASSES = {classes}
X_TRAIN = np.array({_literal(d.x_train)})
Y_TRAIN = np.array({_literal(d.y_train)})
X_TEST = np.array({_literal(d.x_test)})
Y_TEST = np.array({_literal(d.y_test)})
MEAN = np.array({_literal(d.mean)})
STD = np.array({_literal(d.std)})
x_train = ((X_TRAIN - MEAN) / STD).astype(np.float32)
x_test = ((X_TEST - MEAN) / STD).astype(np.float32)
y_train = Y_TRAIN.astype({y_dtype}){y_shape}
y_test = Y_TEST.astype({y_dtype}){y_shape}
"""
    return {
        "s": s,
        "d": d,
        "data": data,
        "schedule": json.dumps({str(k): v for k, v in schedule.items()}, indent=4),
        "steps": session.step_count,
        "epochs": session.epoch,
        "train_loss, test_loss": session.losses(),
    }


def _model_lines(session: Session) -> str:
    """The network, built exactly as the session builds it (same order of random draws)."""
    s = session.settings
    sizes = session.shape()
    lines = [
        f"biograd.manual_seed({s.seed})  # the starting weights and the dropout masks",
        "model = nn.Sequential()",
    ]
    for i in range(len(sizes) - 1):
        last = i == len(sizes) - 2
        act = None if last else s.activations[i]
        if last and session.data.task == "binary" and s.loss == "mse":
            act = "sigmoid"
        lines.append(f"layer = nn.Linear({sizes[i]}, {sizes[i + 1]})")
        lines.append(f"nn.init.for_activation_(layer.weight, layer.bias, {act!r})")
        lines.append("model.append(layer)")
        if act is not None:
            lines.append(f"model.append(nn.get_activation({act!r}))")
        if not last and s.dropout > 0:
            lines.append(f"model.append(nn.Dropout({s.dropout!r}))")
    return "\n".join(lines)


def script(session: Session) -> str:
    """A runnable biograd script that reproduces the session: data, network, and the same training steps
    (with each change of lr, optimizer, batch size or regularization at its step). It prints the final
    training and test loss, which equal the page's."""
    with session.locked():
        c = _common(session)
        s = c["s"]
        model = _model_lines(session)
        train, test = c["train_loss, test_loss"]
        return f'''"""A biograd playground session as a script: the same data, network and training steps.

Data: {_comment(c["d"].description)}; network {session.shape()}; loss {s.loss}.
The session trained {c["steps"]} steps ({c["epochs"]} epochs) and ended at training loss {train:.6g},
test loss {test:.6g}. Run:  python playground_session.py   (add --save DIR to keep the model)
"""

import argparse

import numpy as np

import biograd
from biograd import nn, optim

{c["data"]}
{model}
loss_fn = nn.get_loss({s.loss!r})

OPTIMIZERS = {OPTIMIZERS!r}  # the page's names -> biograd.optim.create(name, **settings)
# the training settings from each step on (changes made on the page while training)
SCHEDULE = {c["schedule"]}
STEPS = {c["steps"]}


def penalty(settings):
    """L1: rate * sum |w|; L2: rate * sum w^2 / 2, over the weights (not the biases)."""
    weights = [m.weight for m in model if isinstance(m, nn.Linear)]
    if settings["regularization"] == "none" or settings["reg_rate"] == 0:
        return None
    if settings["regularization"] == "l1":
        return sum(w.abs().sum() for w in weights) * settings["reg_rate"]
    return sum((w * w).sum() for w in weights) * (settings["reg_rate"] / 2)


def losses():
    """The data loss on the training and the test rows, in eval mode (dropout off)."""
    model.eval()
    with biograd.no_grad():
        train = loss_fn(model(biograd.Tensor(x_train)), biograd.Tensor(y_train)).item()
        test = loss_fn(model(biograd.Tensor(x_test)), biograd.Tensor(y_test)).item()
    model.train()
    return train, test


order_rng = np.random.default_rng({s.seed})  # the order of the training rows, epoch after epoch
order, pos, epoch = order_rng.permutation(len(x_train)), 0, 0
settings, opt = None, None
for step in range(STEPS):
    if str(step) in SCHEDULE:
        new = SCHEDULE[str(step)]
        if opt is None or new["optimizer"] != settings["optimizer"]:
            name, extra = OPTIMIZERS[new["optimizer"]]
            opt = optim.create(name, model.parameters(), lr=new["lr"], **extra)
        else:
            opt.lr = new["lr"]
        settings = new
    batch_size = len(x_train) if settings["batch_size"] == "full" else settings["batch_size"]
    rows = order[pos : pos + batch_size]
    pos += batch_size
    model.train()
    opt.zero_grad()
    loss = loss_fn(model(biograd.Tensor(x_train[rows])), biograd.Tensor(y_train[rows]))
    extra = penalty(settings)
    if extra is not None:
        loss = loss + extra
    loss.backward()  # dL/dw for every weight, by the chain rule
    opt.step()  # w <- w - lr * dL/dw (or the momentum / Adam update)
    if pos >= len(x_train):  # every training row was used once: an epoch
        epoch += 1
        order, pos = order_rng.permutation(len(x_train)), 0

train_loss, test_loss = losses()
print(f"steps {{STEPS}}, epochs {{epoch}}: training loss {{train_loss:.6f}}, test loss {{test_loss:.6f}}")

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", metavar="DIR", help="save the trained model there (biograd.save)")
    args = parser.parse_args()
    if args.save:
        preprocessing = {{"mean": MEAN.tolist(), "std": STD.tolist()}}
        meta = {{"feature_names": FEATURES, "class_names": CLASSES, "preprocessing": preprocessing}}
        print("saved", biograd.save(model, args.save, metadata=meta))
'''


def torch_script(session: Session) -> str:
    """The same session in PyTorch: the same data, the same starting weights (the biograd network built
    from the seed, converted by ``biograd.interop.to_torch``), the same batches and settings, trained
    with torch.optim. Without dropout it ends at the same losses up to float32 rounding."""
    with session.locked():
        c = _common(session)
        s = c["s"]
        model = _model_lines(session)
        torch_loss = _TORCH_LOSSES[s.loss]
        y_kind = "torch.long" if session.data.task == "multiclass" else "torch.float32"
        agreement = (
            "Dropout masks come from PyTorch's own generator, so with dropout the numbers differ a little."
            if s.dropout
            else "Without dropout it ends at the biograd session's losses up to float32 rounding."
        )
        return f'''"""The PyTorch twin of a biograd playground session: same data, weights, batches, settings.

Needs PyTorch (pip install torch). {agreement}
"""

import numpy as np
import torch

import biograd
from biograd import nn
from biograd.interop import to_torch

{c["data"]}
# the starting weights: the biograd network from the seed, converted to torch.nn
{model}
net = to_torch(model)
loss_fn = torch.nn.{torch_loss}()

SCHEDULE = {c["schedule"]}
STEPS = {c["steps"]}
X_TRAIN_T, Y_TRAIN_T = torch.tensor(x_train), torch.tensor(y_train, dtype={y_kind})
X_TEST_T, Y_TEST_T = torch.tensor(x_test), torch.tensor(y_test, dtype={y_kind})


def make_optimizer(settings):
    if settings["optimizer"] == "adam":
        return torch.optim.Adam(net.parameters(), lr=settings["lr"])
    momentum = 0.9 if settings["optimizer"] == "momentum" else 0.0
    return torch.optim.SGD(net.parameters(), lr=settings["lr"], momentum=momentum)


def penalty(settings):
    weights = [m.weight for m in net if isinstance(m, torch.nn.Linear)]
    if settings["regularization"] == "none" or settings["reg_rate"] == 0:
        return None
    if settings["regularization"] == "l1":
        return sum(w.abs().sum() for w in weights) * settings["reg_rate"]
    return sum((w * w).sum() for w in weights) * (settings["reg_rate"] / 2)


order_rng = np.random.default_rng({s.seed})
order, pos = order_rng.permutation(len(x_train)), 0
settings, opt = None, None
for step in range(STEPS):
    if str(step) in SCHEDULE:
        new = SCHEDULE[str(step)]
        if opt is None or new["optimizer"] != settings["optimizer"]:
            opt = make_optimizer(new)
        else:
            for group in opt.param_groups:
                group["lr"] = new["lr"]
        settings = new
    batch_size = len(x_train) if settings["batch_size"] == "full" else settings["batch_size"]
    rows = torch.as_tensor(order[pos : pos + batch_size])
    pos += batch_size
    net.train()
    opt.zero_grad()
    loss = loss_fn(net(X_TRAIN_T[rows]), Y_TRAIN_T[rows])
    extra = penalty(settings)
    if extra is not None:
        loss = loss + extra
    loss.backward()
    opt.step()
    if pos >= len(x_train):
        order, pos = order_rng.permutation(len(x_train)), 0

net.eval()
with torch.no_grad():
    train_loss = loss_fn(net(X_TRAIN_T), Y_TRAIN_T).item()
    test_loss = loss_fn(net(X_TEST_T), Y_TEST_T).item()
print(f"PyTorch: training loss {{train_loss:.6f}}, test loss {{test_loss:.6f}}")
'''


def model_zip(session: Session, tmpdir: Path) -> bytes:
    """The trained model as ``biograd.save`` writes it (model.safetensors + model.json), zipped."""
    import tempfile

    from biograd.io import save

    with session.locked():
        d = session.data
        train, test = session.losses()
        meta = {
            "feature_names": d.feature_names,
            "class_names": d.classes,
            "task": "regression" if d.task == "regression" else "classification",
            "preprocessing": {"mean": d.mean.tolist(), "std": d.std.tolist()},
            "training": {
                "source": "biograd playground",
                "steps": session.step_count,
                "epochs": session.epoch,
                "loss": session.settings.loss,
                "train_loss": train,
                "test_loss": test,
            },
        }
        with tempfile.TemporaryDirectory(dir=tmpdir) as folder:
            written = save(session.model, Path(folder) / "model", metadata=meta)
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(Path(written).iterdir()):
                    archive.write(path, f"playground_model/{path.name}")
        return buffer.getvalue()


def replay(session: Session) -> str:
    """A self-contained HTML page that replays the session's recorded moments (no server needed)."""
    from biograd.playground.server import static_text

    with session.locked():
        snapshots = list(session.snapshots)
        now = frames.frame(session)
        if not snapshots or snapshots[-1]["step"] != now["step"]:
            snapshots.append(now)
        payload = {"points": frames.points(session), "snapshots": snapshots, "shape": session.shape()}
    data = script_json(payload)  # the one escaping path: no "</script>" or "<!--" can end the element
    page = static_text("index.html")
    css, js = static_text("playground.css"), static_text("playground.js")  # files of the package
    page = page.replace(
        '<link rel="stylesheet" href="static/playground.css?token={{TOKEN}}">',
        html("<style>{}</style>", Markup(css)),
    )
    page = page.replace(
        '<script src="static/playground.js?token={{TOKEN}}"></script>',
        html(
            '<script type="application/json" id="replay-data">{}</script>\n<script>{}</script>',
            data,
            Markup(js),
        ),
    )
    return page.replace("{{TOKEN}}", "")
