"""fit with the recorded step (the default) against fit with eager steps (record=False), the reference:
the same History and the same weights, with dropout, schedulers, early stopping, a short last batch and
divergence; and BLAS threads chosen by the size of the products, the user's setting restored after."""

from __future__ import annotations

import importlib
import warnings
from typing import ClassVar

import numpy as np
import pytest

import biograd
from biograd import nn, optim
from biograd.record import SMALL_PRODUCT, RecordedStep, largest_product

fit_module = importlib.import_module("biograd.training.fit")  # the module, not the function it exports


def _data(n: int = 150, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    labels = (x[:, 0] + x[:, 1] > 0).astype(int) + (x[:, 2] > 0.8)
    values = (x @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.1 * rng.normal(size=n)).astype(np.float32)
    return x, labels, values


class _Counting(RecordedStep):
    made: ClassVar[list[_Counting]] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _Counting.made.append(self)


def _fit_both(make_model, make_fit_kwargs, monkeypatch):
    results = []
    for record in (True, False):
        biograd.manual_seed(0)
        model = make_model()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            history = biograd.fit(model, **make_fit_kwargs(model), verbose=False, seed=3, record=record)
        results.append((model, history))
    (m1, h1), (m2, h2) = results
    assert h1.stop_reason == h2.stop_reason
    assert h1.restored_epoch == h2.restored_epoch
    assert set(h1.history) == set(h2.history)
    for key, values in h2.history.items():
        np.testing.assert_allclose(h1.history[key], values, rtol=1e-5, atol=1e-7, err_msg=key)
    for p, q in zip(m1.parameters(), m2.parameters(), strict=True):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-5, atol=1e-7)
    return h1


@pytest.fixture
def counting(monkeypatch):
    _Counting.made = []
    monkeypatch.setattr(fit_module, "RecordedStep", _Counting)
    return _Counting.made


def test_fit_recorded_equals_eager_with_dropout_step_lr_and_a_short_last_batch(counting, monkeypatch):
    x, labels, _ = _data()

    def kwargs(model):
        opt = optim.Adam(model.parameters(), lr=1e-2)
        return dict(
            x=x, y=labels, optimizer=opt, scheduler=optim.StepLR(opt, 3, gamma=0.5), epochs=8, batch_size=32
        )

    _fit_both(lambda: nn.MLP([4, 16, 16, 3], dropout=0.2), kwargs, monkeypatch)
    step = counting[0]
    # 120 training rows in batches of 32: three full batches (replayed) and one of 24 (eager) per epoch
    assert step.counts["recorded"] == 1
    assert step.counts["replayed"] == 8 * 3 - 1
    assert step.counts["eager"] == 8


def test_fit_recorded_equals_eager_with_early_stopping_and_plateau_schedule(counting, monkeypatch):
    x, _, values = _data()

    def kwargs(model):
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
        return dict(
            x=x,
            y=values,
            optimizer=opt,
            scheduler=optim.ReduceLROnPlateau(opt, patience=1, factor=0.5),
            callbacks=[biograd.EarlyStopping(patience=2, restore_best_weights=True)],
            epochs=40,
            batch_size=16,
        )

    history = _fit_both(lambda: nn.MLP([4, 8, 1], activation="tanh"), kwargs, monkeypatch)
    assert history.stop_reason == "early_stopping"
    assert counting[0].counts["replayed"] > 0


def test_fit_recorded_equals_eager_when_training_diverges(counting, monkeypatch):
    x, _, values = _data()

    def kwargs(model):
        return dict(x=x, y=values * 1e6, optimizer="sgd", lr=10.0, epochs=5, batch_size=16)

    history = _fit_both(lambda: nn.MLP([4, 8, 1]), kwargs, monkeypatch)
    assert history.stop_reason == "diverged"


def test_fit_record_false_never_records(counting):
    x, labels, _ = _data()
    biograd.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        biograd.fit(nn.MLP([4, 8, 3]), x, labels, epochs=2, verbose=False, record=False)
    assert counting == []


def _blas_threads() -> int:
    from threadpoolctl import threadpool_info

    return max(p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas")


class _ThreadSpy(biograd.Callback):
    def __init__(self):
        super().__init__()
        self.seen: set[int] = set()

    def on_batch_end(self, batch, logs=None):
        self.seen.add(_blas_threads())


@pytest.mark.parametrize("big", [False, True])
def test_fit_uses_one_blas_thread_for_small_products_and_restores_the_users_setting(big):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    rng = np.random.default_rng(0)
    n_in = 600 if big else 4
    x = rng.normal(size=(64, n_in)).astype(np.float32)
    y = rng.integers(0, 2, size=64)
    model = nn.MLP([n_in, 7000 if big else 8, 2])
    assert (largest_product(model, (32, n_in)) >= SMALL_PRODUCT) is big
    spy = _ThreadSpy()
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            biograd.fit(model, x, y, epochs=1, batch_size=32, verbose=False, callbacks=[spy])
        assert _blas_threads() == before
    assert spy.seen == ({before} if big else {1})
