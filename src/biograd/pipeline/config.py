"""The settings of a training run: :class:`TrainConfig` (the command line's options, checked) and the
defaults for tables and for sequences."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np


class ConfigError(ValueError):
    """A setting of the run is invalid (``--lr -1``, ``--hidden 64,x``, ...); the message names the
    setting, what is allowed and what was given."""


def parse_hidden(text: str | Sequence[int] | None) -> tuple[int, ...] | None:
    """Hidden layer sizes from ``"64,32"`` (or a list of ints). ``""``/``"0"``/``"none"``: no hidden
    layer (a linear model). Raises ConfigError for anything else."""
    if text is None:
        return None
    if not isinstance(text, str):
        values = list(text)
    else:
        cleaned = text.strip().lower()
        if cleaned in ("", "0", "none"):
            return ()
        parts = [p.strip() for p in cleaned.split(",")]
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise ConfigError(
                "The 'hidden' parameter must be layer sizes separated by commas, e.g. 64,32 (two hidden "
                f"layers of 64 and 32 neurons). Got {text!r} instead."
            ) from None
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ConfigError(
                f"The 'hidden' parameter must hold layer sizes >= 1, e.g. 64,32. Got {text!r} instead."
            )
    return tuple(int(v) for v in values)


#: numpy's generators take seeds below 2**32 everywhere biograd seeds one (legacy and new).
MAX_SEED = 2**32 - 1


@dataclass
class TrainConfig:
    """Every setting of a training run (the command line's options), with checked values.

    ``None`` means "the default for this kind of data" (:meth:`with_defaults`). Tables (an MLP): one hidden
    layer of 32 neurons, dropout 0.3, AdamW with weight decay 0.1, lr 1e-3: a small, regularized network,
    because biological tables are small (hundreds of samples) and a big unregularized one memorizes them
    (on the bundled breast-cancer and diabetes tables it lost to ridge/logistic regression). Sequences (a
    convolutional network): 32 filters, no dropout, Adam, lr 3e-3.
    """

    task: str = "auto"
    hidden: tuple[int, ...] | None = None
    activation: str = "relu"
    epochs: int = 200
    batch_size: int = 32
    lr: float | None = None
    optimizer: str | None = None
    dropout: float | None = None
    weight_decay: float | None = None
    patience: int = 20
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    seed: int = 0
    impute: str | None = None
    kernel_size: int | None = None
    #: "auto" (from the data size, :func:`biograd.stats.choose_scheme`), "cross-validation" or "holdout"
    evaluation: str = "auto"
    #: tables with more features than samples: keep this many, chosen inside each training fold
    select_features: int | None = None

    def check(self) -> TrainConfig:
        """Raise ConfigError (scikit-learn style) for the first invalid setting; return self."""
        from biograd.nn.activation import activation_names, get_activation
        from biograd.optim import optimizer_names

        def fail(name: str, rule: str, value: Any) -> None:
            raise ConfigError(f"The '{name}' parameter must be {rule}. Got {value!r} instead.")

        def is_int(v: Any) -> bool:
            return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

        def is_real(v: Any) -> bool:
            return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)

        if self.task not in ("auto", "classification", "regression"):
            fail("task", "'auto', 'classification' or 'regression'", self.task)
        if self.hidden is not None:
            self.hidden = parse_hidden(self.hidden)
        hidden_acts = [n for n in activation_names() if n not in ("softmax", "log_softmax", "None")]
        try:
            act = get_activation(self.activation)
        except ValueError:
            act = None
        if not isinstance(self.activation, str) or act is None or self.activation.lower() in ("softmax",):
            fail("activation", f"one of {', '.join(hidden_acts)}", self.activation)
        if not is_int(self.epochs) or self.epochs < 1:
            fail("epochs", "an int >= 1", self.epochs)
        if not is_int(self.batch_size) or self.batch_size < 1:
            fail("batch_size", "an int >= 1", self.batch_size)
        if self.lr is not None and (not is_real(self.lr) or not math.isfinite(self.lr) or self.lr <= 0):
            fail("lr", "> 0 (e.g. 0.001)", self.lr)
        if self.optimizer is not None and (
            not isinstance(self.optimizer, str) or self.optimizer.lower() not in optimizer_names()
        ):
            fail("optimizer", f"one of {', '.join(optimizer_names())}", self.optimizer)
        if self.dropout is not None and (not is_real(self.dropout) or not 0 <= self.dropout < 1):
            fail("dropout", "a float in [0, 1)", self.dropout)
        if self.weight_decay is not None and (
            not is_real(self.weight_decay) or not math.isfinite(self.weight_decay) or self.weight_decay < 0
        ):
            fail("weight_decay", ">= 0", self.weight_decay)
        if not is_int(self.patience) or self.patience < 1:
            fail("patience", "an int >= 1", self.patience)
        for name in ("val_fraction", "test_fraction"):
            value = getattr(self, name)
            if not is_real(value) or not 0 < value < 1:
                fail(name, "a float in (0, 1), e.g. 0.2", value)
        if self.val_fraction + self.test_fraction >= 0.9:
            raise ConfigError(
                f"val_fraction + test_fraction = {self.val_fraction + self.test_fraction:g} leaves almost "
                "nothing to train on; keep their sum below 0.9 (e.g. 0.2 and 0.2)."
            )
        if not is_int(self.seed) or not 0 <= self.seed <= MAX_SEED:
            fail("seed", f"an int from 0 to {MAX_SEED}", self.seed)
        if self.impute not in (None, "mean", "median"):
            fail("impute", "'mean' or 'median'", self.impute)
        if self.kernel_size is not None and (not is_int(self.kernel_size) or self.kernel_size < 1):
            fail("kernel_size", "an int >= 1", self.kernel_size)
        if self.evaluation not in ("auto", "cross-validation", "holdout"):
            fail("evaluation", "'auto', 'cross-validation' or 'holdout'", self.evaluation)
        if self.select_features is not None and (
            not is_int(self.select_features) or self.select_features < 1
        ):
            fail("select_features", "an int >= 1", self.select_features)
        return self

    def with_defaults(self, is_sequence: bool) -> TrainConfig:
        """A copy with every ``None`` setting replaced by the default for tables or for sequences."""
        optimizer = self.optimizer or ("adam" if is_sequence else "adamw")
        default_decay = 0.1 if optimizer.lower() == "adamw" and not is_sequence else 0.0
        return replace(
            self,
            hidden=self.hidden if self.hidden is not None else (32,),
            lr=self.lr if self.lr is not None else (3e-3 if is_sequence else 1e-3),
            optimizer=optimizer,
            dropout=self.dropout if self.dropout is not None else (0.0 if is_sequence else 0.3),
            weight_decay=self.weight_decay if self.weight_decay is not None else default_decay,
        )

    def as_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}
