"""The chain-rule trace: the notes' example y = sin(x^2) against its closed form, and the record's shape."""

from __future__ import annotations

import numpy as np
import pytest

import biograd


def test_derivative_of_sin_x_squared_is_2x_cos_x_squared():
    xs = np.linspace(-3.0, 3.0, 41)
    x = biograd.tensor(xs, requires_grad=True)  # float64: many x at once
    (x**2).sin().backward(np.ones_like(xs))
    np.testing.assert_allclose(x.grad, 2 * xs * np.cos(xs**2), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("x0", [1.5, -0.7, 0.0, 2.2, 10.0])
def test_trace_numbers_equal_the_closed_form(x0):
    x = biograd.tensor(x0, requires_grad=True, dtype=np.float64, name="x")
    u = x**2
    u.name = "u"
    y = u.sin()
    y.name = "y"
    with biograd.trace() as t:
        y.backward()

    assert [s.op for s in t] == ["Sin", "Pow"]
    sin_step, pow_step = t[0], t[1]
    # step 1: y = sin(u): upstream dL/dy = 1, local dy/du = cos(u) = cos(x^2), passed = cos(x^2)
    assert sin_step.output_label == "y" and sin_step.input_labels == ("u",)
    assert float(sin_step.upstream) == 1.0
    np.testing.assert_allclose(sin_step.output, np.sin(x0**2), rtol=1e-14)
    np.testing.assert_allclose(sin_step.local_values[0], np.cos(x0**2), rtol=1e-14)
    np.testing.assert_allclose(sin_step.passed[0], np.cos(x0**2), rtol=1e-14)
    assert sin_step.local_formulas == ("cos(u)",)
    # step 2: u = x^2: upstream cos(x^2), local du/dx = 2x, passed = 2x cos(x^2)
    assert pow_step.output_label == "u" and pow_step.input_labels[0] == "x"
    np.testing.assert_allclose(pow_step.upstream, np.cos(x0**2), rtol=1e-14)
    np.testing.assert_allclose(pow_step.local_values[0], 2 * x0, rtol=1e-14)
    np.testing.assert_allclose(pow_step.passed[0], 2 * x0 * np.cos(x0**2), rtol=1e-14, atol=1e-300)
    assert pow_step.passed[1] is None  # the exponent 2 is a constant
    assert pow_step.local_formulas[0] == "2*x"
    assert pow_step.chain[0] == "cos(u) * 2*x"
    np.testing.assert_allclose(t.leaf_grads["x"], 2 * x0 * np.cos(x0**2), rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(x.grad, 2 * x0 * np.cos(x0**2), rtol=1e-14, atol=1e-300)


def test_printed_trace_reads_naturally():
    x = biograd.tensor(1.5, requires_grad=True, name="x")
    u = x**2
    u.name = "u"
    y = u.sin()
    y.name = "y"
    with biograd.trace() as t:
        y.backward()
    text = str(t)
    assert "y = Sin(u)" in text and "u = Pow(x, 2)" in text
    assert "dy/du = cos(u) = -0.628" in text
    assert "du/dx = 2*x = 3" in text
    assert "dL/dx = cos(u) * 2*x = -1.88" in text  # 2 * 1.5 * cos(2.25) = -1.8845
    assert repr(t) == "<Trace of 2 backward steps>"


def test_trace_records_every_node_in_backward_order_with_shapes_reduced(rng):
    x = biograd.tensor(rng.normal(size=(4, 3)), requires_grad=True, name="x")
    w = biograd.tensor(rng.normal(size=(2, 3)), requires_grad=True, name="w")
    b = biograd.tensor(rng.normal(size=(2,)), requires_grad=True, name="b")
    data = biograd.tensor(rng.normal(size=(4, 3)))  # no gradient: appears as an input, gets none
    loss = ((x + data) @ w.T + b).relu().mean()
    with biograd.trace() as t:
        loss.backward()
    assert sorted(s.op for s in t) == sorted(["Mul", "Sum", "ReLU", "Add", "MatMul", "Transpose", "Add"])
    assert [s.op for s in t][:5] == ["Mul", "Sum", "ReLU", "Add", "MatMul"]
    position = {id(s.output_tensor): i for i, s in enumerate(t)}
    for i, step in enumerate(t):  # a node's step comes before the steps of the nodes it was made from
        for parent in step.input_tensors:
            if id(parent) in position:
                assert position[id(parent)] > i
        for value, parent in zip(step.passed, step.input_tensors, strict=True):
            if value is not None:
                assert value.shape == parent.shape
    bias_add = t[3]
    assert bias_add.input_labels[1] == "b" and bias_add.passed[1].shape == (2,)
    np.testing.assert_allclose(bias_add.passed[1], b.grad)
    assert t[4].local_values == (None, None)  # matmul: not elementwise, formula only
    first_add = next(s for s in t if s.op == "Add" and s is not bias_add)
    assert first_add.passed[1] is None  # data gets no gradient
    assert set(t.leaf_grads) == {"x", "w", "b"}


def test_no_trace_outside_the_with_block():
    x = biograd.tensor(2.0, requires_grad=True)
    with biograd.trace() as t:
        pass
    (x * x).backward()
    assert len(t) == 0


def test_unnamed_tensors_read_like_the_notes_output_y_input_x_intermediates_v():
    x = biograd.tensor(1.5, requires_grad=True)
    with biograd.trace() as steps:
        (x**2).sin().backward()
    first, second = steps.steps
    assert (first.output_label, first.input_labels) == ("y", ("v1",))
    assert (second.output_label, second.input_labels[0]) == ("v1", "x")
    assert "dL/dx = " in str(steps) and abs(float(x.grad) - 2 * 1.5 * np.cos(2.25)) < 1e-5


def test_input_gradients_are_also_written_in_terms_of_the_inputs():
    """The notes: d/dx sin(x^2) = cos(x^2) * 2x, here with the numbers of x = 1.5 (the closed form)."""
    x = biograd.tensor(1.5, requires_grad=True)
    with biograd.trace() as steps:
        (x**2).sin().backward()
    last = str(steps).splitlines()[-1]
    assert "cos(x^2) * 2*x" in last
    assert float(last.rsplit("=", 1)[1]) == pytest.approx(np.cos(1.5**2) * 2 * 1.5, rel=1e-5)
    assert steps.in_terms_of_inputs("v1 * 3") == "(x^2) * 3"  # an inserted expression keeps its precedence
