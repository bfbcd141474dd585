"""What the playground's page can change, and the checks each setting passes (errors name the setting, what
was sent and what is allowed)."""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from biograd.playground import datasets

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
    s.loss = _choice("loss", s.loss, ["auto", *dict.fromkeys(n for names in LOSSES.values() for n in names)])
    s.dropout = _number("dropout", s.dropout, 0, 0.9)
    s.lr = _number("lr", s.lr, 1e-6, 10)
    s.optimizer = _choice("optimizer", s.optimizer, list(OPTIMIZERS))
    if s.batch_size != "full":
        s.batch_size = _number("batch_size", s.batch_size, 1, 5000, integer=True)
    s.regularization = _choice("regularization", s.regularization, REGULARIZATIONS)
    s.reg_rate = _number("reg_rate", s.reg_rate, 0, 10)
    return s
