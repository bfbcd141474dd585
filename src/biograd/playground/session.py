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

import math
import threading
import time
from dataclasses import asdict, fields
from typing import Any

import numpy as np

from biograd import nn, optim
from biograd.playground import datasets, frames
from biograd.playground.settings import (
    LOSSES,
    OPTIMIZERS,
    TRAINING_SETTINGS,
    Settings,
    SettingsError,
    checked,
)
from biograd.random import manual_seed
from biograd.tensor import Tensor, no_grad

MAX_SNAPSHOTS = 120  # the replay keeps at most this many recorded moments
BURST, REST = 0.010, 0.004  # the trainer trains for BURST seconds, then rests REST seconds


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
        self.frames_served = 0  # frames computed so far (numbers each frame, so the page draws in order)
        self.message = ""
        self.rebuild()

    # -- building -----------------------------------------------------------------------------------
    def rebuild(self, loss_chosen: bool = False) -> None:
        """New data and a new network with fresh weights from the seed. A loss that does not fit the data's
        task is an error when it was just chosen (``loss_chosen``), else replaced by the task's default, with
        a message saying so."""
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
            if s.loss == "auto":
                s.loss = LOSSES[task][0]
            elif s.loss not in LOSSES[task]:
                if loss_chosen:
                    raise SettingsError(
                        f"The loss {s.loss!r} does not fit {task} data; "
                        f"choose one of {', '.join(LOSSES[task])}."
                    )
                self.message = f"The loss {s.loss} does not fit {task} data; now using {LOSSES[task][0]}."
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
        gx = np.linspace(self.extent[0], self.extent[1], frames.GRID)
        gy = np.linspace(self.extent[3], self.extent[2], frames.GRID)  # row 0 is the top of the picture
        xx, yy = np.meshgrid(gx, gy)
        raw = np.tile(d.mean, (frames.GRID * frames.GRID, 1))
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
            self.message = ""
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
                        self.rebuild(loss_chosen="loss" in changes and changes["loss"] != "auto")
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

    def current_diagnosis(self) -> dict[str, Any] | None:
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
                "train_loss": frames.finite(train),
                "test_loss": frames.finite(test),
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

    def _snapshot(self) -> None:
        """Record this moment for the HTML replay (thinned to at most MAX_SNAPSHOTS)."""
        frame = frames.frame(self)
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
