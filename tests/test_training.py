"""fit, History, diagnose, callbacks and the safety nets, checked against recorded weights, closed forms,
PyTorch and scikit-learn."""

from __future__ import annotations

import io
import json
import math
import warnings

import numpy as np
import pytest

import biograd
from biograd.nn import MLP, Linear, Sequential, Tanh
from biograd.training import ConvergenceWarning, r2_score
from torch_oracle import needs_torch, torch

pytestmark = pytest.mark.filterwarnings("ignore::biograd.training.ConvergenceWarning")


def _blobs(n=120, seed=0, classes=2):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = rng.standard_normal((n, 2)).astype(np.float32) + 2.0 * np.stack([y, -y], axis=1)
    return x, y


def _noisy_tiny(seed=0):
    """40 rows, 25% of the labels flipped: a big network can only memorize the noise."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((40, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int)
    flip = rng.random(40) < 0.25
    y[flip] = 1 - y[flip]
    return x, y


class Recorder(biograd.Callback):
    """Keeps a copy of the weights after every batch and every epoch, and the order of the hooks."""

    def __init__(self):
        self.calls, self.after_batch, self.after_epoch, self.batch_losses = [], [], {}, []

    def on_train_begin(self, logs=None):
        self.calls.append("train_begin")
        self.initial = self.model.state_dict()

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(f"epoch_begin {epoch}")

    def on_batch_end(self, batch, logs=None):
        self.after_batch.append(self.model.state_dict())
        self.batch_losses.append(logs["loss"])

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(f"epoch_end {epoch}")
        self.after_epoch[epoch] = self.model.state_dict()

    def on_train_end(self, logs=None):
        self.calls.append("train_end")


def _same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


# --------------------------------------------------------------------------------------------------
# History
# --------------------------------------------------------------------------------------------------


def test_history_records_every_epoch_like_keras():
    x, y = _blobs()
    biograd.manual_seed(0)
    model = MLP([2, 8, 1])
    h = biograd.fit(model, x, y, epochs=7, seed=0, verbose=False, lr=0.01)
    assert isinstance(h, biograd.History)
    assert h.epochs == list(range(1, 8)) and h.epochs_run == 7 and len(h) == 7
    assert set(h.history) == {"loss", "val_loss", "accuracy", "val_accuracy", "lr"}
    assert all(len(v) == 7 for v in h.history.values())
    assert h.loss is h.history["loss"] and h["val_accuracy"] is h.history["val_accuracy"]
    assert h.stop_reason == "completed" and h.monitor == "val_loss"
    assert h.best_epoch == 1 + int(np.argmin(h.val_loss)) and h.best_value == min(h.val_loss)
    assert h.task == "classification" and h.params["loss"] == "BCEWithLogitsLoss"
    frame = h.to_frame()
    assert list(frame.index) == h.epochs and list(frame.columns) == list(h.history)
    assert "stop_reason='completed'" in repr(h) and "<table>" in h._repr_html_()
    json.dumps(h.summary())  # JSON-able, for biograd.save
    with pytest.raises(KeyError, match="it has: loss"):
        h["val_auc"]
    with pytest.raises(AttributeError, match="Recorded values"):
        h.val_auc


@needs_torch
def test_logged_losses_and_accuracy_match_pytorch_and_numpy():
    x, y = _blobs()
    biograd.manual_seed(0)
    model = MLP([2, 8, 1])
    h = biograd.fit(model, x, y, epochs=3, seed=1, verbose=False, validation_split=0.25)
    val = h.val_indices
    assert len(val) == 30
    logits = biograd.predict(model, x[val], task="raw")
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(logits, dtype=torch.float64).reshape(-1), torch.tensor(y[val], dtype=torch.float64)
    )
    assert h.val_loss[-1] == pytest.approx(float(expected), rel=1e-5)
    assert h.val_accuracy[-1] == pytest.approx(np.mean((logits.reshape(-1) > 0) == y[val]))


def test_r2_matches_scikit_learn():
    from sklearn.metrics import r2_score as sk_r2

    rng = np.random.default_rng(0)
    y, out = rng.standard_normal((50, 2)), rng.standard_normal((50, 2))
    assert r2_score(y, out) == pytest.approx(sk_r2(y, out))
    assert r2_score(y[:, 0], out[:, :1]) == pytest.approx(sk_r2(y[:, 0], out[:, 0]))


# --------------------------------------------------------------------------------------------------
# Data handling: loss inference, split, validation data
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "classes, outputs, loss",
    [(2, 1, "BCEWithLogitsLoss"), (3, 3, "CrossEntropyLoss"), (2, 2, "CrossEntropyLoss")],
)
def test_loss_inferred_from_labels_and_outputs(classes, outputs, loss):
    x, y = _blobs(classes=classes)
    biograd.manual_seed(0)
    h = biograd.fit(MLP([2, 4, outputs]), x, y, epochs=1, verbose=False)
    assert h.params["loss"] == loss and h.task == "classification"


def test_float_targets_mean_regression_with_mse():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 3))
    h = biograd.fit(Linear(3, 1), x, x @ [1.0, 2.0, 3.0], epochs=2, verbose=False)
    assert h.params["loss"] == "MSELoss" and h.task == "regression" and "r2" in h.history


def test_text_labels_become_classes_and_predict_returns_them():
    x, y = _blobs(classes=3)
    names = np.array(["T cell", "B cell", "NK cell"])[y]
    biograd.manual_seed(0)
    model = MLP([2, 8, 3])
    h = biograd.fit(model, x, names, epochs=30, lr=0.05, seed=0, verbose=False)
    assert h.class_names == ["B cell", "NK cell", "T cell"]
    predicted = biograd.predict(model, x)
    assert set(predicted) <= set(names) and np.mean(predicted == names) > 0.8


def test_wrong_number_of_outputs_is_explained():
    x, y = _blobs(classes=3)
    with pytest.raises(ValueError, match=r"gives 2 output\(s\) per sample but y has 3 classes"):
        biograd.fit(MLP([2, 4, 2]), x, y, epochs=1, verbose=False)
    with pytest.raises(ValueError, match="x has 120 rows but y has 3"):
        biograd.fit(MLP([2, 4, 3]), x, y[:3], epochs=1, verbose=False)


def test_loss_given_by_name_or_module():
    x, y = _blobs(classes=3)
    h = biograd.fit(MLP([2, 4, 3]), x, y, loss="cross_entropy", epochs=1, verbose=False)
    assert h.params["loss"] == "CrossEntropyLoss"
    h = biograd.fit(
        MLP([2, 4, 3]), x, y, loss=biograd.nn.CrossEntropyLoss(label_smoothing=0.1), epochs=1, verbose=False
    )
    assert h.params["loss"] == "CrossEntropyLoss"


def test_validation_split_is_shuffled_and_stratified_never_the_last_rows():
    # rows sorted by class, 1/4 positives: Keras would validate on positives only
    x = np.random.default_rng(0).standard_normal((200, 2)).astype(np.float32)
    y = np.r_[np.zeros(150, int), np.ones(50, int)]
    h = biograd.fit(Linear(2, 1), x, y, epochs=1, validation_split=0.2, seed=0, verbose=False)
    val = h.val_indices
    assert len(val) == 40 and h.params["n_train"] == 160
    assert y[val].sum() == 10  # exactly the 25% of positives: stratified
    assert not np.array_equal(val, np.arange(160, 200))
    assert val.min() < 100  # drawn from everywhere


def test_validation_data_is_used_as_given():
    x, y = _blobs()
    xv, yv = _blobs(n=30, seed=1)
    h = biograd.fit(MLP([2, 4, 1]), x, y, epochs=2, validation_data=(xv, yv), verbose=False)
    assert h.params["n_val"] == 30 and h.params["n_train"] == 120 and h.val_indices is None
    with pytest.raises(ValueError, match="label 7"):
        biograd.fit(MLP([2, 4, 1]), x, y, epochs=1, validation_data=(xv, np.full(30, 7)), verbose=False)


def test_pandas_tables_give_feature_names():
    pd = pytest.importorskip("pandas")
    x, y = _blobs()
    table = pd.DataFrame(x, columns=["GATA3", "ESR1"])
    h = biograd.fit(Linear(2, 1), table, pd.Series(y), epochs=1, verbose=False)
    assert h.feature_names == ["GATA3", "ESR1"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epochs": 0}, "'epochs' parameter of fit must be an int >= 1. Got 0 instead"),
        ({"batch_size": 0}, "'batch_size' parameter of fit must be an int >= 1 or 'full'"),
        (
            {"validation_split": 1.0},
            r"'validation_split' parameter of fit must be a float in the range \[0, 1\)",
        ),
        ({"optimizer": 3}, "'optimizer' parameter of fit must be a name"),
        ({"metrics": ["auc_roc"]}, "Unknown metric 'auc_roc'"),
    ],
)
def test_parameter_validation(kwargs, message):
    x, y = _blobs()
    with pytest.raises((ValueError, TypeError), match=message):
        biograd.fit(Linear(2, 1), x, y, verbose=False, **kwargs)


def test_non_finite_inputs_are_refused():
    x, y = _blobs()
    x[5, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite values \(first at position \(5, 1\)\)"):
        biograd.fit(Linear(2, 1), x, y, verbose=False)


# --------------------------------------------------------------------------------------------------
# Callbacks
# --------------------------------------------------------------------------------------------------


def test_callback_hooks_run_in_order_with_model_and_history():
    x, y = _blobs(n=40)
    rec = Recorder()
    h = biograd.fit(Linear(2, 1), x, y, epochs=2, batch_size=16, callbacks=[rec], verbose=False)
    assert rec.calls == [
        "train_begin",
        "epoch_begin 1",
        "epoch_end 1",
        "epoch_begin 2",
        "epoch_end 2",
        "train_end",
    ]
    assert len(rec.after_batch) == 2 * math.ceil(32 / 16) and rec.history is h


def test_full_batch_is_one_step_per_epoch_and_size_one_is_one_step_per_row():
    x, y = _blobs(n=20)
    rec = Recorder()
    biograd.fit(Linear(2, 1), x, y, epochs=3, batch_size="full", callbacks=[rec], verbose=False)
    assert len(rec.after_batch) == 3
    rec = Recorder()
    biograd.fit(
        Linear(2, 1), x, y, epochs=1, batch_size=1, validation_split=0, callbacks=[rec], verbose=False
    )
    assert len(rec.after_batch) == 20


def test_early_stopping_restores_exactly_the_best_epochs_weights(tmp_path):
    x, y = _noisy_tiny()
    biograd.manual_seed(0)
    model = MLP([2, 128, 128, 1])
    rec = Recorder()
    stop = biograd.EarlyStopping(patience=5)
    checkpoint = biograd.ModelCheckpoint(tmp_path / "best")
    h = biograd.fit(
        model, x, y, lr=1e-2, epochs=300, batch_size="full", validation_split=0.3, seed=0, verbose=False,
        callbacks=[rec, stop, checkpoint],
    )  # fmt: skip
    assert h.stop_reason == "early_stopping"
    best = 1 + int(np.argmin(h.val_loss))
    assert stop.best_epoch == best == h.best_epoch == h.restored_epoch == checkpoint.best_epoch
    assert h.epochs_run == best + 5 and stop.stopped_epoch == best + 5
    assert _same_weights(model.state_dict(), rec.after_epoch[best])
    assert not _same_weights(model.state_dict(), rec.after_epoch[h.epochs_run])
    saved = biograd.load(tmp_path / "best")
    assert _same_weights(saved.state_dict(), model.state_dict())
    assert biograd.io.read_metadata(tmp_path / "best")["training"]["epoch"] == best
    # and the restored model really scores the best validation loss
    assert biograd.evaluate(model, x[h.val_indices], y[h.val_indices])["loss"] == pytest.approx(h.best_value)


def test_early_stopping_on_a_metric_that_does_not_exist_warns_and_lists_the_others():
    x, y = _blobs()
    stop = biograd.EarlyStopping(monitor="val_auc", patience=1)
    with pytest.warns(UserWarning, match="'val_auc'.*Available: loss, val_loss, accuracy, val_accuracy"):
        h = biograd.fit(Linear(2, 1), x, y, epochs=4, callbacks=[stop], verbose=False)
    assert h.stop_reason == "completed"


def test_early_stopping_on_accuracy_maximizes():
    stop = biograd.EarlyStopping(monitor="val_accuracy")
    assert not stop._lower_is_better() and biograd.EarlyStopping()._lower_is_better()
    with pytest.raises(ValueError, match="'patience' parameter of EarlyStopping must be an int >= 0"):
        biograd.EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="'mode' parameter"):
        biograd.EarlyStopping(mode="best")


def test_model_checkpoint_every_epoch_with_a_pattern(tmp_path):
    x, y = _blobs(n=40)
    cp = biograd.ModelCheckpoint(str(tmp_path / "epoch{epoch:02d}"), save_best_only=False)
    biograd.fit(Linear(2, 1), x, y, epochs=3, callbacks=[cp], verbose=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch01", "epoch02", "epoch03"]
    assert [e for e, _ in cp.saved] == [1, 2, 3]


def test_progress_bar_lines_when_not_a_terminal():
    x, y = _blobs(n=40)
    out = io.StringIO()
    biograd.fit(Linear(2, 1), x, y, epochs=50, callbacks=[biograd.ProgressBar(stream=out)], verbose=False)
    lines = out.getvalue().splitlines()
    assert 5 <= len(lines) <= 12  # about a tenth of the epochs, plus the first and last
    assert lines[0].startswith("epoch  1/50") and "val_loss" in lines[0] and "val_accuracy" in lines[0]
    assert lines[-1].startswith("epoch 50/50")


def test_progress_bar_redraws_one_line_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    x, y = _blobs(n=40)
    out = Terminal()
    biograd.fit(Linear(2, 1), x, y, epochs=5, callbacks=[biograd.ProgressBar(stream=out)], verbose=False)
    text = out.getvalue()
    assert "\r" in text and text.count("\n") == 1 and "epoch 5/5" in text


def test_verbose_false_is_silent_and_verbose_true_is_quiet_when_stderr_is_not_a_terminal(capsys):
    x, y = _blobs(n=40)
    biograd.fit(Linear(2, 1), x, y, epochs=3, verbose=False)
    assert capsys.readouterr() == ("", "")
    biograd.fit(Linear(2, 1), x, y, epochs=3, verbose=True)  # capsys's stderr is not a terminal
    assert capsys.readouterr() == ("", "")
    biograd.fit(Linear(2, 1), x, y, epochs=3, verbose=2)  # one line per epoch, asked for explicitly
    captured = capsys.readouterr()
    assert captured.out == "" and "epoch 3/3" in captured.err and captured.err.count("epoch") == 3


def test_verbose_true_draws_the_bar_on_a_terminal(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    monkeypatch.setattr("sys.stderr", out)
    x, y = _blobs(n=40)
    biograd.fit(Linear(2, 1), x, y, epochs=3, verbose=True)
    assert "\r" in out.getvalue() and "epoch 3/3" in out.getvalue()


# --------------------------------------------------------------------------------------------------
# Safety: divergence, Ctrl-C, reproducibility
# --------------------------------------------------------------------------------------------------


def test_divergence_is_caught_within_one_step_and_the_last_good_weights_restored():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)) * 100
    y = x @ [1.0, -2.0, 3.0]
    biograd.manual_seed(0)
    model = MLP([3, 8, 1])
    rec = Recorder()
    h = biograd.fit(
        model, x, y, optimizer="sgd", lr=10.0, epochs=50, batch_size=8, callbacks=[rec], verbose=False
    )
    assert h.stop_reason == "diverged"
    epoch, batch = h.diverged_at
    steps = len(rec.after_batch)  # optimizer steps taken, all with a finite loss
    assert all(math.isfinite(v) for v in rec.batch_losses)
    assert steps == (epoch - 1) * 7 + batch - 1  # it stopped at the first non-finite loss (7 batches/epoch)
    # the weights are those that gave the last finite loss: before the last step
    expected = rec.after_batch[-2] if steps >= 2 else rec.initial
    assert _same_weights(model.state_dict(), expected)
    assert all(np.isfinite(p.data).all() for p in model.parameters())
    d = h.diagnose()
    assert d.verdict == "diverged" and "learning rate" in d.advice
    assert f"epoch {epoch}, batch {batch}" in str(d)


def test_keyboard_interrupt_stops_after_the_batch_with_the_best_weights():
    class CtrlC(biograd.Callback):
        def on_batch_end(self, batch, logs=None):
            if len(self.history.epochs) == 6:
                raise KeyboardInterrupt

    x, y = _noisy_tiny()
    biograd.manual_seed(0)
    model = MLP([2, 64, 1])
    rec = Recorder()
    h = biograd.fit(
        model, x, y, lr=1e-2, epochs=100, batch_size="full", callbacks=[rec, CtrlC()], verbose=False
    )
    assert h.stop_reason == "interrupted" and h.epochs_run == 6
    best = 1 + int(np.argmin(h.val_loss))
    assert h.restored_epoch == best
    assert _same_weights(model.state_dict(), rec.after_epoch[best])
    assert "interrupted" in str(h.diagnose()).lower()
    assert model.training  # the model's mode is restored


def test_keyboard_interrupt_restores_early_stopping_best_too():
    class CtrlC(biograd.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 3:
                raise KeyboardInterrupt

    x, y = _blobs()
    stop = biograd.EarlyStopping(patience=50)
    h = biograd.fit(MLP([2, 4, 1]), x, y, epochs=10, callbacks=[stop, CtrlC()], verbose=False)
    assert h.stop_reason == "interrupted" and h.epochs_run == 3 and h.restored_epoch == stop.best_epoch


def test_keyboard_interrupt_after_the_best_epoch_announces_the_restore_once():
    """Ctrl-C well after the best epoch: fit puts the best weights back and says so; EarlyStopping must not
    say it a second time."""

    class CtrlC(biograd.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 40:
                raise KeyboardInterrupt

    x, y = _noisy_tiny()
    biograd.manual_seed(0)
    stop = biograd.EarlyStopping(patience=100)
    h = biograd.fit(
        MLP([2, 64, 64, 1]), x, y, lr=0.02, epochs=100, seed=0, callbacks=[stop, CtrlC()], verbose=False
    )
    assert h.stop_reason == "interrupted" and h.restored_epoch == stop.best_epoch < 40
    assert sum("estored" in note for note in h.notes) == 1, h.notes  # said once, not by fit and again


def _train_once(seed: int) -> dict:
    x, y = _blobs()
    biograd.manual_seed(123)  # the starting weights
    model = MLP([2, 16, 16, 1], dropout=0.3)
    biograd.fit(model, x, y, epochs=5, batch_size=16, seed=seed, verbose=False)
    return model.state_dict()


def test_same_seed_gives_bit_identical_weights():
    first, second = _train_once(7), _train_once(7)
    assert _same_weights(first, second)
    assert not _same_weights(first, _train_once(8))


# --------------------------------------------------------------------------------------------------
# Diagnosis
# --------------------------------------------------------------------------------------------------


def test_diagnose_overfitting_on_tiny_noisy_data_with_a_big_network():
    x, y = _noisy_tiny()
    biograd.manual_seed(0)
    model = MLP([2, 128, 128, 1])
    h = biograd.fit(
        model, x, y, lr=1e-2, epochs=300, batch_size="full", validation_split=0.3, seed=0, verbose=False
    )
    d = h.diagnose()
    assert d.verdict == "overfitting"
    m = d.evidence["min_val_epoch"]
    assert m == 1 + int(np.argmin(h.val_loss))
    rise = (h.val_loss[-1] - min(h.val_loss)) / min(h.val_loss)
    assert d.evidence["val_rise"] == pytest.approx(rise)
    assert f"rose {rise:.0%} from its minimum at epoch {m}" in str(d)
    assert "dropout, weight decay, a smaller network or more data" in d.advice


def test_diagnose_underfitting_with_one_linear_neuron_on_a_circle():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 2)).astype(np.float32)
    y = ((x**2).sum(axis=1) < 1.4).astype(int)  # inside vs outside a circle: not linearly separable
    biograd.manual_seed(0)
    h = biograd.fit(Linear(2, 1), x, y, lr=0.05, epochs=100, seed=0, verbose=False)
    d = h.diagnose()
    assert d.verdict == "underfitting"
    prior = y[np.setdiff1d(np.arange(300), h.val_indices)].mean()
    entropy = -(prior * np.log(prior) + (1 - prior) * np.log(1 - prior))  # closed-form baseline
    assert h.baseline["loss"] == pytest.approx(entropy, rel=1e-5)
    assert d.evidence["train_loss_vs_baseline"] > 0.9
    assert "bigger network" in d.advice


def test_diagnose_not_converged_warns_like_scikit_learn():
    x, y = _blobs()
    biograd.manual_seed(0)
    with pytest.warns(ConvergenceWarning, match="still falling"):
        h = biograd.fit(MLP([2, 8, 1]), x, y, optimizer="sgd", lr=0.01, epochs=20, verbose=False)
    assert h.diagnose().verdict == "not converged"


def test_diagnose_good_fit_and_its_text():
    x, y = _blobs(n=400)  # 80 validation rows: a 24-row validation set can look overfit by chance
    biograd.manual_seed(0)
    h = biograd.fit(
        MLP([2, 8, 1]), x, y, lr=0.02, epochs=100, seed=0, verbose=False, callbacks=[biograd.EarlyStopping()]
    )
    d = h.diagnose()
    assert d.verdict == "good fit" and "a good fit." in str(d)
    assert isinstance(d, biograd.Diagnosis) and d.verdict in str(d._repr_html_())


# --------------------------------------------------------------------------------------------------
# predict, predict_proba, evaluate
# --------------------------------------------------------------------------------------------------


@needs_torch
def test_predict_helpers_use_eval_mode_and_restore_the_mode():
    x, y = _blobs(classes=3)
    biograd.manual_seed(0)
    model = MLP([2, 16, 3], dropout=0.5)
    biograd.fit(model, x, y, epochs=20, lr=0.02, seed=0, verbose=False)
    model.train()
    raw = biograd.predict(model, x, task="raw")
    assert model.training
    np.testing.assert_array_equal(raw, biograd.predict(model, x, task="raw"))  # dropout off: deterministic
    proba = biograd.predict_proba(model, x, batch_size=7)
    expected = torch.softmax(torch.tensor(raw, dtype=torch.float64), dim=1).numpy()
    np.testing.assert_allclose(proba, expected, rtol=1e-6)
    np.testing.assert_array_equal(biograd.predict(model, x), raw.argmax(axis=1))
    model.eval()
    result = biograd.evaluate(model, x, y)
    assert not model.training
    loss = torch.nn.functional.cross_entropy(torch.tensor(raw, dtype=torch.float64), torch.tensor(y))
    assert result["loss"] == pytest.approx(float(loss), rel=1e-5)
    assert result["accuracy"] == pytest.approx(np.mean(raw.argmax(axis=1) == y))


def test_predict_proba_for_one_logit_is_the_sigmoid():
    x, y = _blobs()
    model = MLP([2, 4, 1])
    biograd.fit(model, x, y, epochs=2, verbose=False)
    z = biograd.predict(model, x, task="raw").reshape(-1).astype(np.float64)
    proba = biograd.predict_proba(model, x)
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-z)), rtol=1e-12)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(biograd.predict(model, x), (z > 0).astype(int))


def test_predict_on_a_model_fit_has_not_seen_returns_raw_outputs():
    model = Sequential(Linear(2, 3), Tanh())
    x = np.ones((4, 2), np.float32)
    with biograd.no_grad():
        np.testing.assert_array_equal(biograd.predict(model, x), model(biograd.tensor(x)).data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert biograd.evaluate(Linear(2, 1), x, np.full(4, 2.5))["loss"] >= 0


# --------------------------------------------------------------------------------------------------
# Learning-rate schedulers inside fit
# --------------------------------------------------------------------------------------------------


@needs_torch
def test_fit_with_step_lr_matches_a_pytorch_loop_with_step_lr():
    x, y = _blobs(n=40)
    biograd.manual_seed(0)
    model = MLP([2, 4, 1])
    net = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1)).double()
    net.load_state_dict({k: torch.tensor(v, dtype=torch.float64) for k, v in model.state_dict().items()})
    opt = biograd.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    sched = biograd.optim.StepLR(opt, step_size=2, gamma=0.5)
    h = biograd.fit(
        model, x, y, optimizer=opt, scheduler=sched, epochs=6, batch_size="full", validation_split=0,
        shuffle=False, verbose=False,
    )  # fmt: skip
    t_opt = torch.optim.SGD(net.parameters(), lr=0.5, momentum=0.9)
    t_sched = torch.optim.lr_scheduler.StepLR(t_opt, step_size=2, gamma=0.5)
    xt, yt = torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)[:, None]
    lrs = []
    for _ in range(6):
        lrs.append(t_opt.param_groups[0]["lr"])
        t_opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(net(xt), yt).backward()
        t_opt.step()
        t_sched.step()
    np.testing.assert_allclose(h.lr, lrs)
    for k, v in net.state_dict().items():
        np.testing.assert_allclose(model.state_dict()[k], v.numpy(), rtol=1e-4, atol=1e-5)


@needs_torch
def test_fit_steps_reduce_lr_on_plateau_with_the_monitored_loss_like_pytorch():
    x, y = _noisy_tiny()
    biograd.manual_seed(0)
    model = MLP([2, 32, 1])
    opt = biograd.optim.Adam(model.parameters(), lr=0.05)
    sched = biograd.optim.ReduceLROnPlateau(opt, factor=0.5, patience=2)
    h = biograd.fit(model, x, y, optimizer=opt, scheduler=sched, epochs=40, seed=0, verbose=False)
    # the oracle: torch's scheduler fed the same validation losses gives the same learning rates
    t_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.05)
    t_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, factor=0.5, patience=2)
    expected = []
    for value in h.val_loss:
        expected.append(t_opt.param_groups[0]["lr"])
        t_sched.step(value)
    np.testing.assert_allclose(h.lr, expected)
    assert h.lr[-1] < h.lr[0]  # the plateau came, the rate fell


def test_fit_refuses_a_scheduler_of_another_optimizer():
    x, y = _blobs(n=20)
    model = MLP([2, 4, 1])
    other = biograd.optim.SGD(MLP([2, 4, 1]).parameters(), lr=0.1)
    with pytest.raises(ValueError, match="another optimizer"):
        biograd.fit(model, x, y, scheduler=biograd.optim.StepLR(other, 2), epochs=1, verbose=False)


def test_float_class_indices_for_a_k_output_model_are_class_labels():
    """biograd.tensor(int labels) is float32; with 3 outputs that can only mean classes 0, 1, 2."""
    x, y = _blobs(n=90, classes=3)
    biograd.manual_seed(0)
    model = MLP([2, 8, 3])
    h = biograd.fit(model, biograd.tensor(x), biograd.tensor(y), epochs=30, seed=0, verbose=False)
    assert h.task == "classification" and h.params["loss"] == "CrossEntropyLoss"
    assert set(np.unique(biograd.predict(model, x))) <= {0, 1, 2}
