"""Tensor behaviour: backpropagation semantics (PyTorch's as oracle), errors a user can act on, dtypes."""

from __future__ import annotations

import warnings
from typing import ClassVar

import numpy as np
import pytest

import biograd
from biograd import ops
from biograd.errors import ShapeError
from biograd.tensor import Tensor, _apply
from torch_oracle import needs_torch, torch

# --------------------------------------------------------------------------------------------------
# Backward semantics
# --------------------------------------------------------------------------------------------------


def test_a_chain_of_100000_ops_backpropagates_without_recursion_error():
    x = biograd.tensor(0.5, requires_grad=True, dtype=np.float64)
    y = x
    for _ in range(100_000):
        y = y * 1.00001 + 0.0
    y.backward()
    np.testing.assert_allclose(x.grad, 1.00001**100_000, rtol=1e-9)  # closed form: d/dx (c^n x) = c^n


def test_deleting_a_100000_op_graph_without_backward_does_not_crash():
    x = biograd.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    del y  # freed by reference counting, node after node


@needs_torch
def test_gradients_accumulate_across_backward_calls_like_torch(rng):
    data = rng.normal(size=(3, 2))
    x = biograd.tensor(data, requires_grad=True)
    xt = torch.tensor(data, requires_grad=True)
    for _ in range(2):
        (x * x).sum().backward()
        (xt * xt).sum().backward()
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad, 4 * data, rtol=1e-12)  # closed form: twice d/dx x^2
    x.zero_grad()
    assert x.grad is None


def test_retain_graph_allows_a_second_backward():
    x = biograd.tensor([1.0, 2.0], requires_grad=True)
    y = (x**3).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * 3 * np.array([1.0, 4.0]))  # d/dx x^3 = 3x^2, twice


def test_a_second_backward_through_a_freed_graph_raises_a_clear_error():
    x = biograd.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"second time.*retain_graph=True"):
        y.backward()


def test_backward_on_a_non_scalar_needs_an_explicit_gradient():
    x = biograd.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*\.sum\(\)"):
        (x * 2).backward()


def test_backward_grad_must_have_the_outputs_shape():
    x = biograd.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ShapeError, match=r"\(2,\).*\(3,\)"):
        (x * 2).backward(np.ones(3))
    y = x * 2
    y.backward(biograd.tensor([1.0, -1.0]))  # a Tensor works as the upstream gradient too
    np.testing.assert_array_equal(x.grad, [2.0, -2.0])


def test_backward_on_a_tensor_without_requires_grad_explains_how_to_fix_it():
    x = biograd.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="requires_grad=True"):
        (x * 2).sum().backward()


def test_no_grad_as_context_manager_and_decorator():
    x = biograd.tensor([1.0, 2.0], requires_grad=True)
    with biograd.no_grad():
        y = x * 2
        assert not biograd.is_grad_enabled()
        with biograd.enable_grad():
            assert (x * 2).requires_grad
    assert not y.requires_grad and y.grad_fn is None
    assert biograd.is_grad_enabled()

    @biograd.no_grad()
    def predict(t, depth=0):
        if depth < 2:
            predict(t, depth + 1)  # re-entering must restore the right mode on the way out
        return t * 3

    assert not predict(x).requires_grad
    assert biograd.is_grad_enabled()
    assert (x * 3).requires_grad


def test_no_grad_restores_the_mode_after_an_exception():
    with pytest.raises(ZeroDivisionError), biograd.no_grad():
        1 / 0
    assert biograd.is_grad_enabled()


def test_data_inputs_get_no_gradient_and_ops_are_told_which_inputs_need_one(rng):
    x = biograd.tensor(rng.normal(size=(4, 3)))  # data
    w = biograd.tensor(rng.normal(size=(2, 3)), requires_grad=True)
    y = x @ w.T
    assert y._op.needs_grad == (False, True)
    y.sum().backward()
    assert x.grad is None
    np.testing.assert_allclose(w.grad, np.ones((4, 2)).T @ x.data, rtol=1e-6)


class _SpyMul(ops.Mul):
    """Mul that records which gradients backward was asked for."""

    seen: ClassVar[list] = []

    def backward(self, grad):
        _SpyMul.seen.append(self.needs_grad)
        return super().backward(grad)


def test_backward_computes_only_the_gradients_that_are_needed():
    x = biograd.tensor([1.0, 2.0])
    w = biograd.tensor([3.0, 4.0], requires_grad=True)
    _SpyMul.seen.clear()
    _apply(_SpyMul(), x, w).sum().backward()
    assert _SpyMul.seen == [(False, True)]
    assert x.grad is None
    np.testing.assert_array_equal(w.grad, [1.0, 2.0])


@needs_torch
def test_a_reused_tensor_gets_the_sum_of_its_gradients(rng):
    data = rng.normal(size=3)
    x = biograd.tensor(data, requires_grad=True, dtype=np.float64)
    xt = torch.tensor(data, requires_grad=True)
    a, b = x.sin(), x * x  # two branches
    (a * b + x).sum().backward()
    at, bt = xt.sin(), xt * xt
    (at * bt + xt).sum().backward()
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-12)
    # closed form: d/dx (x^2 sin x + x) = 2x sin x + x^2 cos x + 1
    np.testing.assert_allclose(x.grad, 2 * data * np.sin(data) + data**2 * np.cos(data) + 1, rtol=1e-12)


def test_retain_grad_keeps_the_gradient_of_an_intermediate():
    x = biograd.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    other = x + 1
    (h * h + other).sum().backward()
    np.testing.assert_allclose(h.grad, 2 * np.array([3.0, 6.0]))  # d/dh h^2 = 2h
    assert other.grad is None  # not retained
    np.testing.assert_allclose(x.grad, 2 * 9 * np.array([1.0, 2.0]) + 1)


def test_gradients_have_the_leafs_dtype_and_shape():
    x = biograd.tensor(np.ones((3, 1), dtype=np.float32), requires_grad=True)
    y = x * np.ones((1, 4))  # float64 array combined with a float32 tensor
    (y * 2.0).sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.shape == (3, 1)
    np.testing.assert_array_equal(x.grad, np.full((3, 1), 8.0))


def test_backward_of_a_leaf_itself():
    x = biograd.tensor(3.0, requires_grad=True)
    x.backward()
    assert float(x.grad) == 1.0


def test_the_user_gradient_array_is_not_modified_or_aliased():
    x = biograd.tensor([1.0, 2.0], requires_grad=True, dtype=np.float64)
    v = np.array([1.0, 1.0])
    (x + 0).backward(v)
    x.grad += 5
    np.testing.assert_array_equal(v, [1.0, 1.0])


# --------------------------------------------------------------------------------------------------
# Errors a user can understand
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ([[1, 2], [3]], "ragged"),
        ("ACGT", "text"),
        (["a", "b"], "text"),
        (object(), "object"),
        ({"a": 1}, "object"),
        ([1, None], "object"),
    ],
)
def test_tensor_from_unusable_data_raises_type_error_naming_it(data, words):
    with pytest.raises(TypeError, match=words) as err:
        biograd.tensor(data)
    assert "biograd.tensor()" in str(err.value)


def test_matmul_mismatch_names_both_shapes_and_the_dimension():
    a = biograd.tensor(np.ones((3, 4)), requires_grad=True)
    b = biograd.tensor(np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"\(3, 4\) @ \(5, 2\)") as err:
        a @ b
    message = str(err.value)
    assert "last dimension of the left input (4)" in message
    assert "second-to-last dimension of the right input (5)" in message


def test_broadcast_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4,\)"):
        biograd.tensor(np.ones((2, 3))) + np.ones(4)


@pytest.mark.parametrize("fn", [biograd.log, biograd.sqrt])
def test_log_and_sqrt_of_negatives_give_nan_with_a_warning_never_clamped(fn):
    x = biograd.tensor([-1.0, 4.0], requires_grad=True)
    with pytest.warns(RuntimeWarning):
        y = fn(x)
    expected = {biograd.log: np.log, biograd.sqrt: np.sqrt}[fn]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        oracle = expected(np.array([-1.0, 4.0], dtype=np.float32))
    assert np.isnan(y.data[0])
    assert y.data[1] == oracle[1]


# --------------------------------------------------------------------------------------------------
# Dtypes
# --------------------------------------------------------------------------------------------------


def test_dtype_rules():
    assert biograd.tensor([1.5, 2.0]).dtype == np.float32  # lists: float32
    assert biograd.tensor([1, 2]).dtype == np.float32  # ints become float32
    assert biograd.tensor(3).dtype == np.float32
    assert biograd.tensor(np.array([1.0])).dtype == np.float64  # float64 arrays are kept
    assert biograd.tensor(np.arange(3)).dtype == np.float32
    assert biograd.tensor([1.0], dtype=np.float64).dtype == np.float64
    assert biograd.tensor([True, False]).dtype == np.bool_

    x = biograd.tensor([1.0, 2.0], requires_grad=True)
    assert (x * 2.5).dtype == np.float32  # Python scalars keep float32
    assert (x + 1).dtype == np.float32
    assert (2.0**x).dtype == np.float32
    assert (x + np.array([1.0, 2.0])).dtype == np.float32  # so do numpy float64 arrays
    assert (np.array([1.0, 2.0]) * x).dtype == np.float32
    assert (x + np.float64(1.0)).dtype == np.float32
    assert (x @ np.ones((2, 2))).dtype == np.float32
    assert biograd.maximum(x, np.zeros(2)).dtype == np.float32
    assert biograd.where(np.array([True, False]), x, 0.0).dtype == np.float32
    assert (x + biograd.tensor(np.ones(2))).dtype == np.float64  # tensor with tensor: numpy's promotion


def test_requires_grad_needs_floating_point_data():
    with pytest.raises(TypeError, match="floating-point"):
        biograd.tensor([True, False], requires_grad=True)


# --------------------------------------------------------------------------------------------------
# Conversions, views and comparisons
# --------------------------------------------------------------------------------------------------


def test_repr_shows_values_and_the_op_that_made_it():
    x = biograd.tensor([1.5, -2.0], requires_grad=True)
    assert repr(x) == "tensor([ 1.5, -2. ], requires_grad=True)"
    assert "grad_fn=<Mul>" in repr(x * 2)
    assert "dtype=float64" in repr(biograd.tensor(np.array([1.0])))
    assert "name='w'" in repr(biograd.tensor(1.0, name="w"))


def test_conversions():
    x = biograd.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    assert isinstance(np.asarray(x), np.ndarray)
    np.testing.assert_array_equal(np.asarray(x), [[1, 2], [3, 4]])
    assert np.asarray(x, dtype=np.float64).dtype == np.float64
    assert x.sum().item() == 10.0 and isinstance(x.sum().item(), float)
    assert isinstance(x.sum().numpy(), np.ndarray)  # even a 0-d result
    assert x.numpy() is x.data
    with pytest.raises(ValueError, match="one element"):
        x.item()
    assert x.shape == (2, 2) and x.ndim == 2 and x.size == 4 and len(x) == 2
    assert x.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert float(x[0, 1]) == 2.0


def test_detach_cuts_the_graph():
    x = biograd.tensor([1.0, 2.0], requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    np.testing.assert_array_equal(d.data, [2.0, 4.0])


def test_T_transposes():
    x = biograd.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    np.testing.assert_array_equal(x.T.data, np.arange(6.0).reshape(2, 3).T)
    x.T.sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones((2, 3)))


def test_comparisons_return_tensors_without_gradients():
    x = biograd.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result, expected in [
        (x > 2, [False, False, True]),
        (x >= 2, [False, True, True]),
        (x < 2, [True, False, False]),
        (x <= 2, [True, True, False]),
        (x == 2, [False, True, False]),
        (x != 2, [True, False, True]),
        (x > biograd.tensor([0.0, 5.0, 0.0]), [True, False, True]),
    ]:
        assert isinstance(result, Tensor) and not result.requires_grad
        np.testing.assert_array_equal(result.data, expected)


def test_numpy_arrays_on_the_left_give_tensors():
    x = biograd.tensor([1.0, 2.0], requires_grad=True)
    a = np.array([3.0, 4.0])
    for result in (a + x, a - x, a * x, a / x, a**x, np.ones((2, 2)) @ x):
        assert isinstance(result, Tensor) and result.requires_grad
    y = a - x
    y.backward(np.ones(2))
    np.testing.assert_array_equal(x.grad, [-1.0, -1.0])


def test_indexing_with_a_tensor_of_integers_or_booleans():
    x = biograd.tensor([10.0, 20.0, 30.0], requires_grad=True)
    np.testing.assert_array_equal(x[biograd.tensor([2, 0])].data, [30.0, 10.0])  # float32 indices cast
    np.testing.assert_array_equal(x[x > 15].data, [20.0, 30.0])


# --------------------------------------------------------------------------------------------------
# In place: the gradient-descent step written by hand
# --------------------------------------------------------------------------------------------------


@needs_torch
def test_hand_written_gradient_step_in_place_matches_pytorch():
    rng = np.random.default_rng(0)
    w0, x = rng.normal(size=(3,)), rng.normal(size=(5, 3))
    w = biograd.tensor(w0, requires_grad=True)
    tw = torch.tensor(w0, requires_grad=True)
    for _ in range(3):
        ((biograd.tensor(x) @ w).tanh() ** 2).sum().backward()
        ((torch.tensor(x) @ tw).tanh() ** 2).sum().backward()
        same_array = w.data
        with biograd.no_grad():
            w -= 0.1 * w.grad
        with torch.no_grad():
            tw -= 0.1 * tw.grad
        w.grad, tw.grad = None, None
        assert w.data is same_array and w.requires_grad and w.dtype == np.float64
    np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=1e-12)


def test_in_place_on_a_weight_while_recording_raises_like_pytorch():
    w = biograd.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        w -= 0.1
    np.testing.assert_array_equal(w.data, [1.0, 2.0])


def test_in_place_inside_a_module_keeps_the_parameter_registered():
    from biograd import nn

    layer = nn.Linear(2, 1)
    before = layer.weight.data.copy()
    with biograd.no_grad():
        layer.weight -= 1.0
        layer.bias *= 0.0
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    np.testing.assert_allclose(layer.weight.data, before - 1.0)
    assert isinstance(layer.weight, nn.Parameter)


@needs_torch
def test_in_place_on_an_intermediate_is_a_new_node_and_gradients_stay_right():
    x = biograd.tensor([0.5, -1.0], requires_grad=True)
    h = x * 3.0
    h += x**2  # h = h + x^2: d/dx = 3 + 2x
    h.sum().backward()
    tx = torch.tensor([0.5, -1.0], requires_grad=True)
    th = tx * 3.0
    th += tx**2
    th.sum().backward()
    np.testing.assert_allclose(x.grad, tx.grad.numpy())


def test_in_place_shape_change_is_a_clear_shape_error():
    a = biograd.tensor([1.0, 2.0])
    with pytest.raises(biograd.ShapeError, match="keeps the tensor's shape"):
        a += np.ones((3, 2))


def test_no_grad_works_as_a_bare_decorator_and_with_parentheses():
    @biograd.no_grad
    def bare(x):
        return x * 2

    @biograd.no_grad()
    def called(x):
        return x * 2

    x = biograd.tensor([1.0], requires_grad=True)
    assert not bare(x).requires_grad and not called(x).requires_grad
    assert (x * 2).requires_grad  # the mode is back afterwards


@needs_torch
def test_float64_given_by_pandas_or_torch_is_kept_python_floats_become_float32():
    pd = pytest.importorskip("pandas")
    assert biograd.tensor(torch.zeros(2, dtype=torch.float64)).dtype == np.float64
    assert biograd.tensor(pd.Series([1.0, 2.0])).dtype == np.float64
    assert biograd.tensor(np.zeros(2)).dtype == np.float64
    assert biograd.tensor([1.0, 2.0]).dtype == np.float32 and biograd.tensor(1.5).dtype == np.float32
