"""biograd.summary: counts against PyTorch's numel and closed forms, shapes from a real forward pass."""

from __future__ import annotations

import numpy as np
import pytest

import biograd
from biograd import nn
from torch_oracle import needs_torch, torch


@needs_torch
def test_mlp_summary_counts_match_torch_and_closed_forms():
    model = nn.MLP([30, 16, 8, 1], dropout=0.2)
    theirs = torch.nn.Sequential(
        torch.nn.Linear(30, 16),
        torch.nn.ReLU(),
        torch.nn.Linear(16, 8),
        torch.nn.ReLU(),
        torch.nn.Linear(8, 1),
    )
    s = biograd.summary(model, (30,))
    assert s.total_parameters == sum(p.numel() for p in theirs.parameters()) == 30 * 16 + 16 + 16 * 8 + 8 + 9
    assert s.total_weights == 30 * 16 + 16 * 8 + 8 and s.total_biases == 16 + 8 + 1
    assert s.total_neurons == 16 + 8 + 1
    assert s.trainable_parameters == s.total_parameters
    assert s.memory_bytes == 4 * s.total_parameters  # float32
    assert biograd.summary(model.double(), 30).memory_bytes == 8 * s.total_parameters
    names = [row.name for row in s.layers]
    assert names == ["0", "1", "2", "3", "4", "5", "6"]
    assert [row.type for row in s.layers] == [
        "Linear",
        "ReLU",
        "Dropout",
        "Linear",
        "ReLU",
        "Dropout",
        "Linear",
    ]
    assert [row.output_shape for row in s.layers] == [(1, 16)] * 3 + [(1, 8)] * 3 + [(1, 1)]
    first = s.layers[0]
    assert (first.weights, first.biases, first.parameters, first.neurons) == (480, 16, 496, 16)
    assert s.output_shape == (1, 1)


def test_summary_text_and_html_without_printing(capsys):
    s = biograd.summary(nn.MLP([4, 3, 2]), 4)
    text = str(s)
    assert capsys.readouterr().out == ""
    for piece in (
        "Linear",
        "(N, 3)",
        "Total neurons: 5",
        "Total parameters: 23",
        "weights (18) + biases (5)",
    ):
        assert piece in text
    assert "<table>" in s._repr_html_() and "Total parameters: 23" in s._repr_html_()
    assert "neurons but" in s.explanation


def test_summary_runs_in_eval_mode_and_restores_the_mode():
    model = nn.MLP([3, 5, 1], dropout=0.5)
    model[2].eval()  # a mixed state must come back exactly
    biograd.summary(model, (3,))
    assert model.training and model[0].training and not model[2].training
    assert "forward" not in model[0].__dict__  # the shape recorders are removed
    model.eval()
    biograd.summary(model, (3,))
    assert not any(m.training for m in model.modules())


def test_summary_of_a_neuron_and_of_nested_custom_modules():
    s = biograd.summary(nn.Neuron(5, "sigmoid"), (5,))
    assert s.total_neurons == 1 and s.total_parameters == 6 and s.layers[0].output_shape == (1,)

    class TwoBranches(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(12, 6), nn.Tanh())
            self.head = nn.Linear(6, 2, bias=False)
            self.scale = nn.Parameter(np.ones(2, dtype=np.float32))

        def forward(self, x):
            return self.head(self.encoder(x)) * self.scale

    s = biograd.summary(TwoBranches(), (3, 4), batch_size=2)
    rows = {row.name: row for row in s.layers}
    assert set(rows) == {"TwoBranches", "encoder.0", "encoder.1", "encoder.2", "head"}
    assert rows["encoder.0"].output_shape == (2, 12) and rows["head"].output_shape == (2, 2)
    assert rows["head"].biases == 0 and rows["head"].weights == 12
    assert s.total_parameters == 12 * 6 + 6 + 12 + 2
    assert s.total_neurons == 6 + 2
    assert s.input_shape == (2, 3, 4)


@needs_torch
def test_summary_rejects_non_modules():
    with pytest.raises(TypeError, match="biograd Module"):
        biograd.summary(torch.nn.Linear(2, 2), 2)
