"""Jupyter and pandas: _repr_html_ of tensors, modules, histories and summaries; fit/predict on DataFrames."""

from __future__ import annotations

import html
import re
import warnings

import numpy as np
import pandas as pd
import pytest

import biograd
from biograd import nn
from torch_oracle import needs_torch


def _text(markup: str) -> str:
    """What a reader sees: tags removed, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def _is_escaped(markup: str) -> bool:
    """No stray '<' inside text: every '<' opens a known tag."""
    return all(
        re.match(r"</?(pre|small|table|tr|td|th|p|b|div|strong|caption|thead|tbody)\b", markup[i:])
        for i in [m.start() for m in re.finditer("<", markup)]
    )


def test_tensor_html_shows_values_shape_dtype_and_grad_status():
    x = biograd.tensor([[1.5, -2.0, 3.25]], requires_grad=True)
    y = (x * 2).sum()
    markup = y._repr_html_()
    assert _is_escaped(markup)  # "grad_fn=<Sum>" must not become a tag
    assert "shape ()" in _text(markup) and "float32" in _text(markup) and "made by" in _text(markup)
    y.backward()
    text = _text(x._repr_html_())
    assert "shape (1, 3)" in text and "requires_grad" in text and "has .grad" in text
    for value in ("1.5", "-2.", "3.25"):
        assert value in text
    assert "float64" in _text(biograd.tensor([1.0], dtype=np.float64)._repr_html_())


@needs_torch
def test_module_html_lists_layers_and_counts_parameters_like_torch():
    from biograd.interop import to_torch

    model = nn.Sequential(nn.Conv1d(4, 8, 5), nn.ReLU(), nn.GlobalMaxPool1d(), nn.Linear(8, 2))
    markup = model._repr_html_()
    assert _is_escaped(markup)
    expected = sum(p.numel() for p in to_torch(model).parameters())  # oracle: PyTorch's count
    assert f"{expected:,} parameters" in _text(markup)
    for layer in ("Conv1d", "ReLU", "GlobalMaxPool1d", "Linear"):
        assert layer in _text(markup)


def test_summary_html_has_every_layer_and_the_total():
    model = nn.MLP([30, 16, 1])
    markup = biograd.summary(model, (30,))._repr_html_()
    assert markup.count("<tr>") >= 4  # header + 3 layers
    assert "513" in _text(markup)  # 30*16 + 16 + 16*1 + 1


@pytest.fixture(scope="module")
def trained():
    """A classifier fit on a DataFrame with text labels (a pandas Series)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(80, 3)), columns=["TP53", "BRCA1", "MYC"])
    labels = pd.Series(np.where(frame["TP53"] + frame["MYC"] > 0, "tumour", "normal"), name="tissue")
    biograd.manual_seed(0)
    model = nn.MLP([3, 8, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = biograd.fit(model, frame, labels, epochs=40, lr=0.05, verbose=False, seed=0)
    return model, history, frame, labels


def test_fit_keeps_feature_names_and_predict_takes_dataframes(trained):
    model, history, frame, labels = trained
    assert history.feature_names == ["TP53", "BRCA1", "MYC"]
    predicted = biograd.predict(model, frame)
    assert set(predicted) <= {"normal", "tumour"}
    assert np.mean(predicted == labels.to_numpy()) > 0.85
    np.testing.assert_array_equal(predicted, biograd.predict(model, frame.to_numpy()))
    proba = biograd.predict_proba(model, frame)
    assert proba.shape == (80, 2)
    assert biograd.evaluate(model, frame, labels)["accuracy"] > 0.85


def test_predict_refuses_columns_in_another_order_or_missing(trained):
    model, _, frame, _ = trained
    with pytest.raises(ValueError, match="other order"):
        biograd.predict(model, frame[["MYC", "BRCA1", "TP53"]])
    with pytest.raises(ValueError, match=r"missing \['MYC'\]"):
        biograd.predict(model, frame[["TP53", "BRCA1"]].assign(EGFR=0.0))


def test_feature_names_survive_save_and_load(trained, tmp_path):
    model, history, frame, _ = trained
    biograd.save(model, tmp_path / "m", history=history)
    loaded = biograd.load(tmp_path / "m")
    np.testing.assert_array_equal(biograd.predict(loaded, frame), biograd.predict(model, frame))
    with pytest.raises(ValueError, match="other order"):
        biograd.predict(loaded, frame[["BRCA1", "TP53", "MYC"]])


def test_history_to_frame_and_html(trained):
    _, history, _, _ = trained
    frame = history.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.index) == list(range(1, 41)) and frame.index.name == "epoch"
    assert {"loss", "val_loss", "accuracy", "val_accuracy"} <= set(frame.columns)
    np.testing.assert_allclose(frame["val_loss"].to_numpy(), history["val_loss"])
    markup = history._repr_html_()
    assert _is_escaped(markup)
    assert "val_loss" in markup and "40 epochs" in _text(markup)


def test_regression_with_series_target():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"dose": rng.uniform(0, 1, 60), "time": rng.uniform(0, 1, 60)})
    response = pd.Series(2.0 * frame["dose"] - frame["time"], name="response")
    model = nn.Linear(2, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        biograd.fit(model, frame, response, epochs=300, lr=0.05, verbose=False, seed=0, validation_split=0)
    # oracle: the closed-form least-squares line (the data lie exactly on it)
    np.testing.assert_allclose(model.weight.data[0], [2.0, -1.0], atol=0.05)
    assert biograd.predict(model, frame).shape == (60,)
