"""One playground session: the settings, the data, the network, and training step by step in biograd.

Every number the page shows is computed here by biograd's engine: the network is a ``biograd.nn.Sequential``
of ``Linear`` layers and activations, the loss one of ``biograd.nn.get_loss``'s (the losses of ``fit``), the
optimizer one of ``biograd.optim.create``'s (SGD, SGD with momentum, Adam), the gradients come from
``loss.backward()``. The training loop is the one the exported script prints (see ``export.py``), so the
script reproduces the session's losses to the last digit:

    order = a new random order of the training rows (numpy, seeded), pos = 0
    each step: rows = order[pos : pos + batch_size]; pos += batch_size
               L = loss(model(x[rows]), y[rows]) + penalty;  L.backward();  optimizer.step()
               when every row was used: the epoch ends (losses recorded), a new order is drawn

The penalty is L1 (rate * sum |w|) or L2 (rate * sum w^2 / 2) over the weights, not the biases.
"""

from __future__ import annotations

import base64
import copy
import math
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from biograd import nn, optim
from biograd.playground import datasets
from biograd.random import manual_seed
from biograd.tensor import Tensor, no_grad

ACTIVATIONS = ["relu", "tanh", "sigmoid", "leaky_relu", "identity"]
OPTIMIZERS = {"sgd": ("sgd", {}), "momentum": ("sgd", {"momentum": 0.9}), "adam": ("adam", {})}
LOSSES = {
    "binary": ["bce_with_logits", "mse"],
    "multiclass": ["cross_entropy"],
    "regression": ["mse", "l1"],
}
REGULARIZATIONS = ["none", "l1", "l2"]
MAX_LAYERS = 6
MAX_NEURONS = 8
GRID = 40  # the heatmaps are GRID x GRID points over the plotted plane
MAX_CURVE = 400  # the loss curves sent to the page have at most this many points
MAX_SNAPSHOTS = 120  # the replay keeps at most this many recorded moments
BURST, REST = 0.010, 0.004  # the trainer trains for BURST seconds, then rests REST seconds


@dataclass
class Settings:
    """What the page can change. Data and network changes start over (new data, new weights, as in
    TensorFlow Playground); the training settings (lr, optimizer, batch size, regularization) apply from the
    next step on and are recorded, so the exported script replays them at the same step."""

    dataset: str = "gating"
    n_points: int = 500
    noise: float = 0.2
    train_ratio: float = 0.5
    seed: int = 1
    features: list[str] = field(default_factory=list)  # for dataset "csv"
    target: str = ""  # for dataset "csv"
    hidden: list[int] = field(default_factory=lambda: [4, 4])
    activations: list[str] = field(default_factory=lambda: ["tanh", "tanh"])
    dropout: float = 0.0
    loss: str = "auto"
    lr: float = 0.03
    optimizer: str = "sgd"
    batch_size: int | str = 10
    regularization: str = "none"
    reg_rate: float = 0.0


TRAINING_SETTINGS = ("lr", "optimizer", "batch_size", "regularization", "reg_rate")


class SettingsError(ValueError):
    """A setting sent by the page (or a script using the JSON interface) is not valid; the message says
    which, what was sent and what is allowed."""


def _number(name: str, value: Any, low: float, high: float, integer: bool = False) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SettingsError(f"The setting {name!r} must be a number. Got {value!r} instead.")
    if integer and value != int(value):
        raise SettingsError(f"The setting {name!r} must be a whole number. Got {value!r} instead.")
    if not low <= value <= high:
        raise SettingsError(
            f"The setting {name!r} must be between {low:g} and {high:g}. Got {value!r} instead."
        )
    return int(value) if integer else float(value)


def _choice(name: str, value: Any, allowed: list[str]) -> str:
    if value not in allowed:
        raise SettingsError(
            f"The setting {name!r} must be one of {', '.join(allowed)}. Got {value!r} instead."
        )
    return str(value)


def checked(current: Settings, changes: dict[str, Any]) -> Settings:
    """``current`` with ``changes`` applied, each checked (a SettingsError names the first bad one)."""
    if not isinstance(changes, dict):
        raise SettingsError('The settings must be a JSON object such as {"lr": 0.1}.')
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise SettingsError(
            f"Unknown setting(s) {', '.join(map(repr, unknown))}. Known: {', '.join(sorted(known))}."
        )
    s = Settings(**{**asdict(current), **copy.deepcopy(changes)})
    s.dataset = _choice("dataset", s.dataset, [*datasets.DATASETS, "csv"])
    s.n_points = _number("n_points", s.n_points, 20, 5000, integer=True)
    s.noise = _number("noise", s.noise, 0, 1)
    s.train_ratio = _number("train_ratio", s.train_ratio, 0.1, 0.9)
    s.seed = _number("seed", s.seed, 0, 2**31 - 1, integer=True)
    if not isinstance(s.features, list) or not all(isinstance(f, str) for f in s.features):
        raise SettingsError(f"The setting 'features' must be a list of column names. Got {s.features!r}.")
    if not isinstance(s.target, str):
        raise SettingsError(f"The setting 'target' must be a column name. Got {s.target!r}.")
    if not isinstance(s.hidden, list) or len(s.hidden) > MAX_LAYERS:
        raise SettingsError(f"The setting 'hidden' must be a list of at most {MAX_LAYERS} layer sizes.")
    s.hidden = [_number("hidden", n, 1, MAX_NEURONS, integer=True) for n in s.hidden]
    if not isinstance(s.activations, list):
        raise SettingsError("The setting 'activations' must be a list with one activation per hidden layer.")
    s.activations = [_choice("activations", a, ACTIVATIONS) for a in s.activations]
    s.activations = (s.activations + [s.activations[-1] if s.activations else "tanh"] * MAX_LAYERS)[
        : len(s.hidden)
    ]
    s.dropout = _number("dropout", s.dropout, 0, 0.9)
    s.lr = _number("lr", s.lr, 1e-6, 10)
    s.optimizer = _choice("optimizer", s.optimizer, list(OPTIMIZERS))
    if s.batch_size != "full":
        s.batch_size = _number("batch_size", s.batch_size, 1, 5000, integer=True)
    s.regularization = _choice("regularization", s.regularization, REGULARIZATIONS)
    s.reg_rate = _number("reg_rate", s.reg_rate, 0, 10)
    return s


def _b64(values: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(values, dtype=np.uint8).tobytes()).decode("ascii")


def _quantize(values: np.ndarray, low: float, high: float) -> str:
    """Values in [low, high] as bytes 0-255 in base64: a heatmap in GRID*GRID bytes."""
    span = high - low if high > low else 1.0
    return _b64(np.clip(np.rint((values - low) / span * 255), 0, 255))


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _thin(values: list[float], most: int) -> tuple[list[int], list[float | None]]:
    """At most ``most`` evenly spaced points of a curve (always the last one), with their positions."""
    n = len(values)
    if n <= most:
        index = list(range(n))
    else:
        index = sorted(set(np.linspace(0, n - 1, most).round().astype(int).tolist()))
    return index, [_finite(values[i]) for i in index]


class Session:
    """The state of the playground: settings, data, network, optimizer and the record of training.

    Thread-safe: every method that reads or changes the network holds ``self.lock``. ``play()`` trains in a
    background thread until ``pause()``; ``step()`` trains one batch.

    >>> s = Session()
    >>> s.step(20)
    >>> s.state()["step"]
    20
    """

    def __init__(self, settings: Settings | None = None, upload: tuple[str, str] | None = None) -> None:
        self.lock = threading.RLock()
        self.settings = settings or Settings()
        self.upload = upload  # (path of our own temporary copy, the name the user gave the file)
        self.playing = False
        self._waiting = 0  # requests waiting for the lock: the trainer lets them in
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._rates: list[tuple[float, int]] = []
        self._trainer: threading.Thread | None = None
        self.data_version = 0
        self._frames = 0
        self.message = ""
        self.rebuild()

    # -- building -----------------------------------------------------------------------------------
    def rebuild(self) -> None:
        """New data (if its settings changed) and a new network with fresh weights from the seed."""
        with self.lock:
            s = self.settings
            if s.dataset == "csv":
                if self.upload is None:
                    raise SettingsError("Upload a CSV/TSV table first, then pick its columns.")
                data = datasets.from_table(
                    self.upload[0], self.upload[1], s.features, s.target, s.train_ratio, s.seed
                )
            else:
                data = datasets.builtin(s.dataset, s.n_points, s.noise, s.train_ratio, s.seed)
            task = data.task
            if s.loss == "auto" or s.loss not in LOSSES[task]:
                s.loss = LOSSES[task][0]
            self.data = data
            self.data_version += 1
            self.n_in = data.x_train.shape[1]
            self.n_out = len(data.classes) if task == "multiclass" else 1
            self.x_train = ((data.x_train - data.mean) / data.std).astype(np.float32)
            self.x_test = ((data.x_test - data.mean) / data.std).astype(np.float32)
            self.y_train = self._targets(data.y_train)
            self.y_test = self._targets(data.y_test)
            self._grid()
            self.reset()

    def _targets(self, y: np.ndarray) -> np.ndarray:
        """y as the loss wants it: class indices (int64) for cross-entropy, a float32 column otherwise."""
        if self.data.task == "multiclass":
            return np.asarray(y, dtype=np.int64)
        return np.asarray(y, dtype=np.float32).reshape(-1, 1)

    def _grid(self) -> None:
        """The plane the pictures show: the first two features over their range (+10%); other features are
        held at their training mean. With one feature the vertical axis is the target (regression: the
        prediction is drawn as a curve) or a random spread of the points (classification)."""
        d = self.data
        x = np.concatenate([d.x_train, d.x_test])
        if self.n_in == 1:
            if d.task == "regression":
                y = np.concatenate([d.y_train, d.y_test]).astype(np.float64)
            else:
                y = np.array([-1.0, 1.0])
            x = np.c_[x, y]
        lo, hi = x.min(axis=0), x.max(axis=0)
        pad = np.where(hi > lo, (hi - lo) * 0.1, 1.0)
        lo, hi = lo - pad, hi + pad
        self.extent = [float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])]
        gx = np.linspace(self.extent[0], self.extent[1], GRID)
        gy = np.linspace(self.extent[3], self.extent[2], GRID)  # row 0 is the top of the picture
        xx, yy = np.meshgrid(gx, gy)
        raw = np.tile(d.mean, (GRID * GRID, 1))
        raw[:, 0] = xx.ravel()
        if self.n_in > 1:
            raw[:, 1] = yy.ravel()
        self.grid_x = ((raw - d.mean) / d.std).astype(np.float32)

    def build_model(self) -> nn.Sequential:
        """The network: for each hidden layer Linear -> activation (-> Dropout), then the output Linear
        (-> Sigmoid when a binary task uses MSE), weights drawn from the seed (He/Xavier by activation)."""
        s = self.settings
        manual_seed(s.seed)
        model = nn.Sequential()
        sizes = [self.n_in, *s.hidden, self.n_out]
        for i in range(len(sizes) - 1):
            last = i == len(sizes) - 2
            act = None if last else s.activations[i]
            if last and self.data.task == "binary" and s.loss == "mse":
                act = "sigmoid"
            layer = nn.Linear(sizes[i], sizes[i + 1])
            nn.init.for_activation_(layer.weight, layer.bias, act)
            model.append(layer)
            if act is not None:
                model.append(nn.get_activation(act))
            if not last and s.dropout > 0:
                model.append(nn.Dropout(s.dropout))
        return model

    def _optimizer(self) -> optim.Optimizer:
        name, extra = OPTIMIZERS[self.settings.optimizer]
        return optim.create(name, self.model.parameters(), lr=self.settings.lr, **extra)

    def reset(self) -> None:
        """Fresh weights from the seed, step 0, empty curves (the data stay)."""
        with self.lock:
            self.model = self.build_model()
            self.linears = [m for m in self.model if isinstance(m, nn.Linear)]
            self.loss_fn = nn.get_loss(self.settings.loss)
            self.opt = self._optimizer()
            self.order_rng = np.random.default_rng(self.settings.seed)
            self.order = self.order_rng.permutation(len(self.x_train))
            self.pos = 0
            self.step_count = 0
            self.epoch = 0
            self.last_rows: np.ndarray | None = None
            self.curves: dict[str, list[float]] = {"epoch": [], "loss": [], "val_loss": [], "accuracy": []}
            self.schedule: list[tuple[int, dict[str, Any]]] = [(0, self.training_settings())]
            self.diverged_at: tuple[int, int] | None = None
            self.snapshots: list[dict[str, Any]] = []
            self._snapshot_every = 1
            self._loss_cache: tuple[int, float, float] | None = None
            self.baseline = self._baseline()
            self._snapshot()

    def training_settings(self) -> dict[str, Any]:
        return {k: getattr(self.settings, k) for k in TRAINING_SETTINGS}

    def update(self, changes: dict[str, Any]) -> None:
        """Apply settings from the page: data or network changes start over; training settings apply
        from the next step (and are recorded for the exported script)."""
        with self.lock:
            new = checked(self.settings, changes)
            old = self.settings
            restart = any(
                getattr(new, f.name) != getattr(old, f.name)
                for f in fields(Settings)
                if f.name not in TRAINING_SETTINGS
            )
            self.settings = new
            try:
                if restart:
                    data_keys = ("dataset", "n_points", "noise", "train_ratio", "seed", "features", "target")
                    if any(getattr(new, k) != getattr(old, k) for k in data_keys) or new.loss != old.loss:
                        self.rebuild()
                    else:
                        self.reset()
                    return
            except Exception:
                self.settings = old
                raise
            if new.optimizer != old.optimizer:
                self.opt = self._optimizer()  # a new optimizer: its running averages start from zero
            else:
                self.opt.lr = new.lr
            entry = self.training_settings()
            if self.schedule[-1][0] == self.step_count:
                self.schedule[-1] = (self.step_count, entry)
            else:
                self.schedule.append((self.step_count, entry))
            if len(self.schedule) > 1 and self.schedule[-1][1] == self.schedule[-2][1]:
                self.schedule.pop()

    # -- the objective and one step -----------------------------------------------------------------
    def penalty(self, model: nn.Module) -> Tensor | None:
        """L1: rate * sum |w|; L2: rate * sum w^2 / 2 (so it adds rate * w to dL/dw); over the weights."""
        s = self.settings
        if s.regularization == "none" or s.reg_rate == 0:
            return None
        weights = [m.weight for m in model if isinstance(m, nn.Linear)]
        if s.regularization == "l1":
            return sum(w.abs().sum() for w in weights) * s.reg_rate
        return sum((w * w).sum() for w in weights) * (s.reg_rate / 2)

    def objective(self, model: nn.Module, xb: np.ndarray, yb: np.ndarray) -> Tensor:
        """The loss of one batch plus the penalty: what backward() differentiates."""
        loss = self.loss_fn(model(Tensor(xb)), Tensor(yb))
        extra = self.penalty(model)
        return loss if extra is None else loss + extra

    def _next_rows(self) -> np.ndarray:
        bs = len(self.x_train) if self.settings.batch_size == "full" else int(self.settings.batch_size)
        rows = self.order[self.pos : self.pos + bs]
        self.pos += bs
        return rows

    def step(self, n: int = 1) -> None:
        """Train ``n`` batches (each: forward, loss, backward, optimizer step)."""
        for _ in range(n):
            with self.lock:
                self._one_step()

    def _one_step(self) -> bool:
        # inf/NaN are caught below (divergence), so numpy's overflow warnings would only be noise
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return self._train_one()

    def _train_one(self) -> bool:
        if self.diverged_at is not None:
            return False
        rows = self._next_rows()
        self.model.train()
        before = [p.data.copy() for p in self.model.parameters()]
        self.opt.zero_grad()
        loss = self.objective(self.model, self.x_train[rows], self.y_train[rows])
        if not math.isfinite(float(loss.item())):
            self._diverged(before)
            return False
        loss.backward()
        self.opt.step()
        self.last_rows = rows
        self.step_count += 1
        if self.pos >= len(self.x_train):
            self._end_epoch()
            self.order = self.order_rng.permutation(len(self.x_train))
            self.pos = 0
        return True

    def _diverged(self, before: list[np.ndarray]) -> None:
        for p, w in zip(self.model.parameters(), before, strict=True):
            p.data = w
        self.diverged_at = (self.epoch + 1, self.step_count + 1)
        self.playing = False
        self.message = (
            f"The loss became inf or NaN at step {self.step_count + 1}: training diverged and was paused; "
            "the weights of the last finite step were kept. Lower the learning rate and press reset."
        )

    def losses(self) -> tuple[float, float]:
        """The data loss (no penalty) on the training and the test rows at the current weights, in eval
        mode (dropout off), as fit's history records it."""
        if self._loss_cache is None or self._loss_cache[0] != self.step_count:
            self.model.eval()
            with no_grad():
                train = float(self.loss_fn(self.model(Tensor(self.x_train)), Tensor(self.y_train)).item())
                test = float(self.loss_fn(self.model(Tensor(self.x_test)), Tensor(self.y_test)).item())
            self.model.train()
            self._loss_cache = (self.step_count, train, test)
        return self._loss_cache[1], self._loss_cache[2]

    def _accuracy(self) -> float | None:
        if self.data.task == "regression":
            return None
        self.model.eval()
        with no_grad():
            out = self.model(Tensor(self.x_train)).data
        self.model.train()
        if self.data.task == "multiclass":
            predicted = out.argmax(axis=1)
        else:
            cut = 0.5 if self.settings.loss == "mse" else 0.0
            predicted = (out[:, 0] > cut).astype(np.int64)
        return float((predicted == self.data.y_train).mean())

    def _end_epoch(self) -> None:
        self.epoch += 1
        train, test = self.losses()
        if not math.isfinite(train):
            self.diverged_at = (self.epoch, self.step_count)
            self.playing = False
            self.message = (
                "The loss became inf or NaN: training diverged and was paused. Lower the learning rate."
            )
        self.curves["epoch"].append(self.epoch)
        self.curves["loss"].append(train)
        self.curves["val_loss"].append(test)
        acc = self._accuracy()
        self.curves["accuracy"].append(math.nan if acc is None else acc)
        if self.epoch % self._snapshot_every == 0:
            self._snapshot()

    def _baseline(self) -> float:
        """The loss of a constant guess (class proportions, or the mean of y), computed by the loss itself:
        the yardstick of History.diagnose()."""
        y = self.data.y_train
        n = len(y)
        if self.data.task == "multiclass":
            p = np.bincount(y, minlength=self.n_out) / n
            out = np.tile(np.log(np.clip(p, 1e-7, 1)), (n, 1)).astype(np.float32)
        elif self.data.task == "binary":
            p = float(np.clip(y.mean(), 1e-7, 1 - 1e-7))
            value = p if self.settings.loss == "mse" else math.log(p / (1 - p))
            out = np.full((n, 1), value, np.float32)
        else:
            centre = np.median(y) if self.settings.loss == "l1" else y.mean()
            out = np.full((n, 1), centre, np.float32)
        with no_grad():
            return float(self.loss_fn(Tensor(out), Tensor(self.y_train)).item())

    # -- the background trainer ---------------------------------------------------------------------
    def play(self) -> None:
        with self.lock:
            if self.diverged_at is not None:
                return
            self.playing = True
            if self._trainer is None:
                self._trainer = threading.Thread(
                    target=self._train_loop, name="playground-trainer", daemon=True
                )
                self._trainer.start()
        self._wake.set()

    def pause(self) -> None:
        with self.lock:
            self.playing = False

    def close(self) -> None:
        """Stop the background trainer (the server calls this when it stops)."""
        self.playing = False
        self._stop.set()
        self._wake.set()
        if self._trainer is not None:
            self._trainer.join(timeout=5)

    def _train_loop(self) -> None:
        while not self._stop.is_set():
            if not self.playing:
                self._wake.wait(0.2)
                self._wake.clear()
                continue
            if self._waiting:  # a request is waiting for the lock: let it in first
                time.sleep(0.001)
                continue
            with self.lock:
                started = time.perf_counter()
                done = 0
                while self.playing and not self._waiting and time.perf_counter() - started < BURST:
                    if not self._one_step():
                        break
                    done += 1
            now = time.perf_counter()
            self._rates.append((now, done))
            while self._rates and now - self._rates[0][0] > 1.0:
                self._rates.pop(0)
            time.sleep(REST)  # room for the page's requests: drawing stays smooth while training

    def steps_per_second(self) -> float:
        if not self.playing or len(self._rates) < 2:
            return 0.0
        span = self._rates[-1][0] - self._rates[0][0]
        return sum(n for _, n in self._rates[1:]) / span if span > 0 else 0.0

    def locked(self):
        """The lock, taken with priority over the background trainer (for the page's requests)."""
        session = self

        class _Priority:
            def __enter__(self) -> None:
                session._waiting += 1
                session.lock.acquire()
                session._waiting -= 1

            def __exit__(self, *exc: Any) -> None:
                session.lock.release()

        return _Priority()

    # -- what the page shows ------------------------------------------------------------------------
    def shape(self) -> list[int]:
        return [self.n_in, *self.settings.hidden, self.n_out]

    def diagnose(self) -> dict[str, Any]:
        """The curves read as ``History.diagnose()`` reads them (the test rows play validation)."""
        from biograd.training import History

        task = "regression" if self.data.task == "regression" else "classification"
        history = History(task, "val_loss", {"lr": self.settings.lr})
        for i, epoch in enumerate(self.curves["epoch"]):
            logs = {"loss": self.curves["loss"][i], "val_loss": self.curves["val_loss"][i]}
            if task == "classification":
                logs["accuracy"] = self.curves["accuracy"][i]
            history.record(epoch, logs)
        history.baseline = {
            "loss": self.baseline,
            "val_loss": self.baseline,
            "accuracy": None
            if task == "regression"
            else float(np.bincount(self.data.y_train).max() / len(self.data.y_train)),
        }
        if self.diverged_at is not None:
            history.stop_reason = "diverged"
            history.diverged_at = self.diverged_at
        d = history.diagnose()
        return {"verdict": d.verdict, "explanation": d.explanation, "advice": d.advice}

    def _diagnosis(self) -> dict[str, Any] | None:
        """diagnose(), recomputed at most twice a second while training (it reads every epoch)."""
        if not self.curves["epoch"]:
            return None
        key = (self.epoch, self.diverged_at)
        cached = getattr(self, "_diagnosis_cache", None)
        stale = not self.playing or time.perf_counter() - cached[1] > 0.5 if cached else True
        if cached is None or (cached[0] != key and stale):
            self._diagnosis_cache = (key, time.perf_counter(), self.diagnose())
        return self._diagnosis_cache[2]

    def state(self) -> dict[str, Any]:
        """The session as JSON: epoch, step, training and test loss, network shape and settings."""
        with self.locked():
            train, test = self.losses()
            return {
                "epoch": self.epoch,
                "step": self.step_count,
                "train_loss": _finite(train),
                "test_loss": _finite(test),
                "shape": self.shape(),
                "task": self.data.task,
                "loss": self.settings.loss,
                "settings": asdict(self.settings),
                "playing": self.playing,
                "steps_per_second": round(self.steps_per_second(), 1),
                "diverged": self.diverged_at is not None,
                "message": self.message,
                "data_version": self.data_version,
            }

    def weights(self) -> list[dict[str, list]]:
        """Every layer's weights (out x in) and biases as nested lists (float64 of the float32 values)."""
        return [
            {
                "weight": m.weight.data.astype(np.float64).tolist(),
                "bias": m.bias.data.astype(np.float64).tolist(),
            }
            for m in self.linears
        ]

    def _activations_on_grid(self) -> tuple[list[np.ndarray], np.ndarray]:
        """Each hidden layer's outputs over the grid (eval mode) and the network's output there."""
        self.model.eval()
        hidden = []
        with no_grad():
            h = Tensor(self.grid_x)
            seen = 0  # Linear layers passed so far
            for m in self.model:
                h = m(h)
                if isinstance(m, nn.Linear):
                    seen += 1
                elif not isinstance(m, nn.Dropout) and seen <= len(self.settings.hidden):
                    hidden.append(h.data)
        self.model.train()
        return hidden[: len(self.settings.hidden)], h.data

    def frame(self, points: bool = False) -> dict[str, Any]:
        """Everything the page draws for one frame: state, heatmaps, output surface, weights, curves."""
        with self.locked():
            out = self.state()
            self._frames += 1
            out["frame"] = self._frames  # increases with every frame: the page never draws an older one
            hidden, output = self._activations_on_grid()
            layers = []
            for acts in hidden:
                neurons = []
                for j in range(acts.shape[1]):
                    scale = float(np.max(np.abs(acts[:, j]))) or 1.0
                    neurons.append({"scale": scale, "map": _quantize(acts[:, j], -scale, scale)})
                layers.append(neurons)
            out["neurons"] = layers
            out["output"] = self._surface(output)
            out["weights"] = [
                {
                    "w": np.round(m.weight.data.astype(np.float64), 5).tolist(),
                    "b": np.round(m.bias.data.astype(np.float64), 5).tolist(),
                }
                for m in self.linears
            ]
            index, loss = _thin(self.curves["loss"], MAX_CURVE)
            out["curves"] = {
                "epoch": [self.curves["epoch"][i] for i in index],
                "loss": loss,
                "val_loss": [_finite(self.curves["val_loss"][i]) for i in index],
                "baseline": self.baseline,
            }
            out["diagnosis"] = self._diagnosis()
            if points:
                out["data"] = self.points()
            return out

    def _surface(self, output: np.ndarray) -> dict[str, Any]:
        task = self.data.task
        if task == "multiclass":
            z = output - output.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            return {
                "kind": "multiclass",
                "cls": _b64(p.argmax(axis=1)),
                "p": _quantize(p.max(axis=1), 0, 1),
                "per_class": [_quantize(p[:, k], 0, 1) for k in range(p.shape[1])],  # one per output neuron
            }
        if task == "binary":
            p = (
                output[:, 0]
                if self.settings.loss == "mse"
                else 1 / (1 + np.exp(-np.clip(output[:, 0], -50, 50)))
            )
            return {"kind": "binary", "p": _quantize(p, 0, 1)}
        y = self.data.y_train
        lo, hi = float(y.min()), float(y.max())
        return {"kind": "regression", "lo": lo, "hi": hi, "v": _quantize(output[:, 0], lo, hi)}

    def points(self) -> dict[str, Any]:
        """The data as plotted: raw units of the first two features, targets, names (user strings:
        the page shows them with textContent only)."""
        d = self.data
        if self.n_in == 1:  # the vertical axis: the target (regression) or a random spread
            spread = np.random.default_rng(self.settings.seed).uniform(
                -0.9, 0.9, len(d.y_train) + len(d.y_test)
            )
            up_train = d.y_train if d.task == "regression" else spread[: len(d.y_train)]
            up_test = d.y_test if d.task == "regression" else spread[len(d.y_train) :]
            train, test = np.c_[d.x_train[:, 0], up_train], np.c_[d.x_test[:, 0], up_test]
        else:
            train, test = d.x_train[:, :2], d.x_test[:, :2]
        return {
            "version": self.data_version,
            "train": np.round(train.astype(np.float64), 5).tolist(),
            "test": np.round(test.astype(np.float64), 5).tolist(),
            "one_feature": self.n_in == 1,
            "y_train": np.asarray(d.y_train, np.float64).round(5).tolist(),
            "y_test": np.asarray(d.y_test, np.float64).round(5).tolist(),
            "features": d.feature_names,
            "target": d.target_name,
            "classes": d.classes,
            "task": d.task,
            "extent": self.extent,
            "grid": GRID,
            "description": d.description,
            "notes": d.notes,
        }

    def _snapshot(self) -> None:
        """Record this moment for the HTML replay (thinned to at most MAX_SNAPSHOTS)."""
        frame = self.frame()
        frame.pop("settings", None)
        self.snapshots.append(frame)
        if len(self.snapshots) >= MAX_SNAPSHOTS:
            self.snapshots = self.snapshots[::2]
            self._snapshot_every *= 2

    # -- one neuron or one weight, every number -----------------------------------------------------
    def inspection_rows(self) -> np.ndarray:
        """The batch the inspector explains: the last batch trained (all training rows for full batch),
        or before any step, the first batch of the current order."""
        if self.settings.batch_size == "full":
            return np.arange(len(self.x_train))
        if self.last_rows is not None:
            return self.last_rows
        return self.order[: int(self.settings.batch_size)]

    def inspect(self, layer: int, neuron: int, source: int | None = None, sample: int = 0) -> dict[str, Any]:
        """For neuron ``neuron`` of Linear layer ``layer`` (0 = the first hidden layer), or for the weight
        from ``source`` (a neuron of the layer below, or an input) into it: the forward values z and a on one
        sample of the batch, its delta dL/dz, the batch's dL/dw (or dL/db) from ``loss.backward()``, and the
        optimizer's update, on a copy of the network (eval mode: dropout off), at the current weights."""
        with self.locked():
            if not 0 <= layer < len(self.linears):
                raise SettingsError(
                    f"There is no layer {layer}; the network has {len(self.linears)} layers of weights."
                )
            lin = self.linears[layer]
            if not 0 <= neuron < lin.out_features:
                raise SettingsError(
                    f"Layer {layer} has {lin.out_features} neurons; there is no neuron {neuron}."
                )
            if source is not None and not 0 <= source < lin.in_features:
                raise SettingsError(
                    f"Layer {layer} has {lin.in_features} inputs; there is no input {source}."
                )
            rows = self.inspection_rows()
            sample = min(max(int(sample), 0), len(rows) - 1)
            work, opt = copy.deepcopy((self.model, self.opt))
            work.eval()
            work.zero_grad()
            modules = list(work)
            h = Tensor(self.x_train[rows])
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
            data_loss = self.loss_fn(h, Tensor(self.y_train[rows]))
            extra = self.penalty(work)
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
                "x_sample": self.x_train[rows[sample]].astype(np.float64).tolist(),
                "z": float(z.data[sample, neuron]),
                "a": float(a.data[sample, neuron]),
                "dL_da": None if a.grad is None else float(a.grad[sample, neuron]),
                "delta": float(delta[sample]),
                "delta_sum": float(delta.sum()),
                "activation": "identity" if a is z else type(modules[modules.index(wl) + 1]).__name__,
                "loss": float(total.item()),
                "data_loss": float(data_loss.item()),
                "lr": self.settings.lr,
                "optimizer": self.settings.optimizer,
                "regularization": self.settings.regularization,
                "reg_rate": self.settings.reg_rate,
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
                reg = self.settings.regularization if self.settings.reg_rate else "none"
                info["penalty_part"] = (
                    self.settings.reg_rate * w
                    if reg == "l2"
                    else self.settings.reg_rate * float(np.sign(w))
                    if reg == "l1"
                    else 0.0
                )
            before = float(param.data[index])
            opt.step()
            info.update(
                value=before,
                grad=grad,
                plain_update=before - self.settings.lr * grad,
                after=float(param.data[index]),
            )
            return info

    def backprop_page(self, sample: int = 0) -> str:
        """``biograd.viz.backprop`` for one sample of the inspected batch (its data loss, plain gradient
        descent with the current lr): the step-by-step page."""
        from biograd.viz import backprop

        with self.locked():
            rows = self.inspection_rows()
            row = int(rows[min(max(int(sample), 0), len(rows) - 1)])
            y = self.y_train[row]
            steps = backprop(
                self.model,
                self.x_train[row],
                y if y.ndim else np.array([y]),
                self.loss_fn,
                lr=self.settings.lr,
                title=f"One step on training row {row} (the playground's current weights)",
            )
            return steps.to_html()
