"""gradcheck itself: it passes correct gradients and, just as importantly, catches wrong ones."""

from __future__ import annotations

import numpy as np
import pytest

import biograd
from biograd import ops
from biograd.tensor import _apply, _unary


class _IgnoresUpstream(ops.Op):
    """y = x^2 with a backward that forgets to multiply by the incoming gradient."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, grad):
        return (2 * self.x,)


class _TwiceTooBig(ops.Op):
    """y = sin(x) with a backward that returns 2 cos(x) dL/dy."""

    def forward(self, x):
        self.x = x
        return np.sin(x)

    def backward(self, grad):
        return (2 * grad * np.cos(self.x),)


class _WrongForSecondInput(ops.Op):
    """y = a * b with the wrong sign for dL/db."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, grad):
        return (grad * self.b, -grad * self.a)


def test_gradcheck_passes_on_correct_functions(rng):
    report = biograd.gradcheck(
        lambda x, w: (x @ w).tanh().sum(axis=0), rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    )
    assert report.ok
    assert len(report.inputs) == 2 and report.inputs[1].shape == (4, 2)
    assert report.max_abs_error < 1e-7
    assert "passed" in str(report)


def test_gradcheck_accepts_tensors_numbers_and_lists():
    assert biograd.gradcheck(lambda a, b: a * b, biograd.tensor([0.5, 1.5]), 2.0).ok
    assert biograd.gradcheck(lambda a: a.exp(), [[0.1, 0.2]]).ok


def test_gradcheck_catches_a_backward_that_ignores_its_upstream_gradient(rng):
    """A constant upstream gradient of ones would let this bug through: the random one must not."""
    with pytest.raises(biograd.GradcheckError) as err:
        biograd.gradcheck(lambda x: _unary(_IgnoresUpstream(), x), rng.normal(size=(2, 3)))
    message = str(err.value)
    assert "FAILED" in message and "input 0 (2, 3)" in message and "worst at (" in message


def test_gradcheck_catches_a_gradient_twice_too_big(rng):
    with pytest.raises(biograd.GradcheckError, match=r"input 0 \(4,\).*backward gave"):
        biograd.gradcheck(lambda x: _unary(_TwiceTooBig(), x), rng.normal(size=4))


def test_gradcheck_names_the_input_whose_gradient_is_wrong(rng):
    with pytest.raises(biograd.GradcheckError) as err:
        biograd.gradcheck(
            lambda a, b: _apply(_WrongForSecondInput(), a, b), rng.normal(size=3), rng.normal(size=3)
        )
    lines = str(err.value).splitlines()
    assert "input 0" in lines[1] and "FAILED" not in lines[1]
    assert "input 1" in lines[2] and "FAILED" in lines[2]


def test_gradcheck_can_report_without_raising(rng):
    report = biograd.gradcheck(
        lambda x: _unary(_TwiceTooBig(), x), rng.normal(size=4), raise_on_failure=False
    )
    assert not report.ok
    worst = report.inputs[0].worst_element
    x = report.inputs[0]
    assert x.max_abs_error == pytest.approx(abs(x.analytic - x.numerical))
    assert len(worst) == 1


def test_gradcheck_does_not_change_the_callers_inputs(rng):
    data = rng.normal(size=3)
    copy = data.copy()
    t = biograd.tensor(data, requires_grad=True)
    biograd.gradcheck(lambda x: x.sin(), t)
    np.testing.assert_array_equal(data, copy)
    assert t.grad is None


def test_gradcheck_needs_a_function_returning_a_tensor():
    with pytest.raises(TypeError, match="must return a biograd Tensor"):
        biograd.gradcheck(lambda x: 1.0, [1.0])


def test_gradcheck_report_names_the_worst_input_and_element(rng):
    """The wrong gradient only in input 1: that input and its largest error are the report's worst."""
    a, b = rng.normal(size=3), rng.normal(size=(2, 3))
    report = biograd.gradcheck(
        lambda a, b: _apply(_WrongForSecondInput(), a, b), a, b[0], raise_on_failure=False
    )
    assert report.worst_input == 1
    errors = [abs(r.analytic - r.numerical) for r in report.inputs]
    assert report.worst_element == report.inputs[1].worst_element and errors[1] == max(errors)
