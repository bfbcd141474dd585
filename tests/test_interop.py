"""biograd <-> PyTorch hand-off: outputs, input gradients and parameter gradients equal in both directions.

The oracle is PyTorch itself: a model converted with ``to_torch`` must compute what biograd computes (and
``from_torch`` the reverse), on random inputs with a non-uniform upstream gradient.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import zlib

import numpy as np
import pytest

import biograd
from biograd import nn
from biograd.interop import UnsupportedLayerError, from_torch, to_torch
from torch_oracle import SKIP_REASON

# every test here hands models to or from PyTorch
torch = pytest.importorskip("torch", reason=SKIP_REASON)

TOL = {"rtol": 1e-6, "atol": 1e-6}  # float32


def _biograd_pass(model, x, upstream):
    """Output, dL/dx and dL/d(each parameter) for L = sum(output * upstream)."""
    model.zero_grad()
    xb = biograd.tensor(x, requires_grad=True, dtype=x.dtype)
    out = model(xb)
    out.backward(upstream.astype(out.data.dtype))
    return out.data, xb.grad, {k: p.grad for k, p in model.named_parameters()}


def _torch_pass(model, x, upstream):
    model.zero_grad()
    xt = torch.tensor(x, requires_grad=True)
    out = model(xt)
    out.backward(torch.tensor(upstream, dtype=out.dtype))
    return out.detach().numpy(), xt.grad.numpy(), {k: p.grad.numpy() for k, p in model.named_parameters()}


def _assert_same(biograd_model, torch_model, x, seed=0, tol=TOL):
    rng = np.random.default_rng(seed)
    out_b = biograd_model(biograd.tensor(x, dtype=x.dtype)).data
    upstream = rng.normal(size=out_b.shape)
    ob, gxb, gpb = _biograd_pass(biograd_model, x, upstream)
    ot, gxt, gpt = _torch_pass(torch_model, x, upstream)
    assert ob.dtype == ot.dtype == x.dtype
    np.testing.assert_allclose(ob, ot, **tol)
    np.testing.assert_allclose(gxb, gxt, **tol)
    assert sorted(gpb) == sorted(gpt)
    for key in gpb:
        np.testing.assert_allclose(gpb[key], gpt[key], **tol, err_msg=f"gradient of {key}")


def _seq_input(rng, n=3, c=4, length=16):
    return rng.normal(size=(n, c, length)).astype(np.float32)


def _table_input(rng, n=5, d=6):
    return rng.normal(size=(n, d)).astype(np.float32)


# (name, builder of the biograd layer, builder of the input)
LAYERS = [
    ("linear", lambda: nn.Linear(6, 4), _table_input),
    ("linear_no_bias", lambda: nn.Linear(6, 4, bias=False), _table_input),
    ("neuron_relu", lambda: nn.Neuron(6, activation="relu"), _table_input),
    ("neuron_sigmoid", lambda: nn.Neuron(6, activation="sigmoid"), _table_input),
    ("relu", nn.ReLU, _table_input),
    ("leaky_relu", lambda: nn.LeakyReLU(0.2), _table_input),
    ("sigmoid", nn.Sigmoid, _table_input),
    ("tanh", nn.Tanh, _table_input),
    ("gelu", nn.GELU, _table_input),
    ("gelu_tanh", lambda: nn.GELU(approximate="tanh"), _table_input),
    ("softmax", nn.Softmax, _table_input),
    ("log_softmax", lambda: nn.LogSoftmax(axis=1), _table_input),
    ("identity", nn.Identity, _table_input),
    ("dropout_eval", lambda: nn.Dropout(0.3).eval(), _table_input),
    ("conv1d", lambda: nn.Conv1d(4, 3, 5), _seq_input),
    ("conv1d_stride_pad", lambda: nn.Conv1d(4, 2, 4, stride=2, padding=1, bias=False), _seq_input),
    ("conv1d_same", lambda: nn.Conv1d(4, 3, 4, padding="same"), _seq_input),
    ("maxpool1d", lambda: nn.MaxPool1d(3), _seq_input),
    ("maxpool1d_stride", lambda: nn.MaxPool1d(4, stride=2), _seq_input),
    ("global_maxpool1d", nn.GlobalMaxPool1d, _seq_input),
    ("flatten", nn.Flatten, _seq_input),
    ("mlp", lambda: nn.MLP([6, 8, 5, 3], activation="tanh"), _table_input),
    (
        "mlp_dropout_eval",
        lambda: nn.MLP([6, 8, 3], dropout=0.5, output_activation="sigmoid").eval(),
        _table_input,
    ),
    (
        "sequential_cnn",
        lambda: nn.Sequential(
            nn.Conv1d(4, 5, 3), nn.ReLU(), nn.MaxPool1d(2), nn.Flatten(), nn.Linear(35, 2), nn.Softmax()
        ),
        _seq_input,
    ),
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("name,build,make_input", LAYERS, ids=[case[0] for case in LAYERS])
def test_to_torch_matches_biograd_outputs_and_gradients(name, build, make_input):
    rng = np.random.default_rng(zlib.crc32(name.encode()))  # the same inputs in every run
    biograd.manual_seed(1)
    model = build()
    torch_model = to_torch(model)
    assert torch_model.training == model.training
    assert {k: tuple(v.shape) for k, v in torch_model.state_dict().items()} == {
        k: v.shape for k, v in model.state_dict().items()
    }
    _assert_same(model, torch_model, make_input(rng))


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("name,build,make_input", LAYERS, ids=[case[0] for case in LAYERS])
def test_from_torch_matches_torch_outputs_and_gradients(name, build, make_input):
    """Start from a torch model with torch's own random weights; biograd must reproduce it."""
    rng = np.random.default_rng(zlib.crc32(name.encode()) + 1)
    torch.manual_seed(2)
    torch_model = to_torch(build())
    for p in torch_model.parameters():  # fresh weights drawn by torch, not copied from biograd
        with torch.no_grad():
            p.uniform_(-0.5, 0.5)
    model = from_torch(torch_model)
    assert model.training == torch_model.training
    _assert_same(model, torch_model, make_input(rng))


def test_from_torch_plain_torch_layers():
    torch.manual_seed(0)
    torch_model = torch.nn.Sequential(
        torch.nn.Conv1d(4, 6, kernel_size=5, padding=2),
        torch.nn.LeakyReLU(0.1),
        torch.nn.MaxPool1d(2),
        torch.nn.Conv1d(6, 3, 3, stride=2),
        torch.nn.GELU(),
        torch.nn.Flatten(),
        torch.nn.Dropout(0.2),
        torch.nn.Linear(9, 4),
        torch.nn.Tanh(),
        torch.nn.Linear(4, 2),
        torch.nn.LogSoftmax(dim=1),
    ).eval()
    model = from_torch(torch_model)
    assert [type(m).__name__ for m in model] == [
        "Conv1d",
        "LeakyReLU",
        "MaxPool1d",
        "Conv1d",
        "GELU",
        "Flatten",
        "Dropout",
        "Linear",
        "Tanh",
        "Linear",
        "LogSoftmax",
    ]
    assert model[6].p == pytest.approx(0.2)
    assert not model.training
    _assert_same(model, torch_model, np.random.default_rng(3).normal(size=(4, 4, 16)).astype(np.float32))


# -- the CLI's default models -------------------------------------------------------------------------


def _cli_table_model():
    return nn.MLP([30, 64, 32, 1], activation="relu")  # cli: MLP n_inputs -> 64 -> 32 -> outputs


def _cli_sequence_model():
    # cli: Conv1d(4 -> 32 filters x 12) -> ReLU -> GlobalMaxPool1d -> Linear(32 -> outputs)
    return nn.Sequential(nn.Conv1d(4, 32, 12), nn.ReLU(), nn.GlobalMaxPool1d(), nn.Linear(32, 3))


@pytest.mark.parametrize("build", [_cli_table_model, _cli_sequence_model], ids=["table_mlp", "sequence_cnn"])
def test_cli_default_models_both_directions(build):
    rng = np.random.default_rng(7)
    biograd.manual_seed(3)
    model = build()
    x = (
        rng.normal(size=(8, 30)).astype(np.float32)
        if isinstance(model, nn.MLP)
        else np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(8, 60))].transpose(0, 2, 1).copy()
    )
    torch_model = to_torch(model)
    _assert_same(model, torch_model, x)
    back = from_torch(torch_model)
    _assert_same(back, torch_model, x)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[key], value)


def test_training_continues_identically_in_torch():
    """One SGD step in each framework from the same weights gives the same weights."""
    rng = np.random.default_rng(0)
    biograd.manual_seed(0)
    model = nn.MLP([5, 7, 2])
    torch_model = to_torch(model)
    x = rng.normal(size=(16, 5)).astype(np.float32)
    y = rng.integers(0, 2, size=16)
    loss = nn.CrossEntropyLoss()(model(x), y)
    loss.backward()
    biograd.optim.SGD(model.parameters(), lr=0.1).step()
    torch_loss = torch.nn.functional.cross_entropy(torch_model(torch.from_numpy(x)), torch.from_numpy(y))
    torch_loss.backward()
    torch.optim.SGD(torch_model.parameters(), lr=0.1).step()
    assert loss.item() == pytest.approx(torch_loss.item(), rel=1e-6)
    for key, value in torch_model.state_dict().items():
        np.testing.assert_allclose(model.state_dict()[key], value.numpy(), **TOL)


# -- dtypes -------------------------------------------------------------------------------------------


def test_float64_is_kept_both_ways():
    model = nn.Sequential(nn.Conv1d(4, 3, 3), nn.GlobalMaxPool1d(), nn.Neuron(3, activation="tanh")).double()
    torch_model = to_torch(model)
    assert all(p.dtype == torch.float64 for p in torch_model.parameters())
    x = np.random.default_rng(1).normal(size=(2, 4, 9))
    _assert_same(model, torch_model, x, tol={"rtol": 1e-12, "atol": 1e-12})
    back = from_torch(torch_model)
    assert all(p.data.dtype == np.float64 for p in back.parameters())


def test_float32_is_the_default():
    torch_model = to_torch(nn.Linear(3, 2))
    assert torch_model.weight.dtype == torch.float32
    back = from_torch(torch.nn.Linear(3, 2))
    assert back.weight.data.dtype == np.float32
    half = from_torch(torch.nn.Linear(3, 2).half())
    assert half.weight.data.dtype == np.float32


def test_weights_are_copied_not_shared():
    model = nn.Linear(3, 2)
    torch_model = to_torch(model)
    with torch.no_grad():
        torch_model.weight.add_(1.0)
    assert not np.allclose(model.weight.data, torch_model.weight.detach().numpy())


def test_requires_grad_and_mode_carry_over():
    model = nn.MLP([3, 4, 1]).eval()
    model[0].weight.requires_grad = False
    torch_model = to_torch(model)
    assert not torch_model.training
    assert not torch_model[0].weight.requires_grad
    assert torch_model[0].bias.requires_grad
    assert from_torch(torch_model.train()).training


# -- safetensors files written by biograd.save ---------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_saved_safetensors_load_into_torch_with_load_state_dict(tmp_path, dtype):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    biograd.manual_seed(4)
    model = nn.Sequential(
        nn.Conv1d(4, 6, 5, padding="same"), nn.ReLU(), nn.GlobalMaxPool1d(), nn.Dropout(0.1), nn.Linear(6, 2)
    ).to(dtype)
    biograd.save(model, tmp_path / "model")
    biograd.manual_seed(5)
    fresh = to_torch(
        nn.Sequential(
            nn.Conv1d(4, 6, 5, padding="same"),
            nn.ReLU(),
            nn.GlobalMaxPool1d(),
            nn.Dropout(0.1),
            nn.Linear(6, 2),
        ).to(dtype)
    )
    state = safetensors_torch.load_file(str(tmp_path / "model" / "model.safetensors"))
    result = fresh.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    x = np.random.default_rng(0).normal(size=(3, 4, 20)).astype(dtype)
    model.eval()
    _assert_same(model, fresh.eval(), x)


def test_torch_state_dict_loads_into_biograd():
    torch.manual_seed(0)
    torch_model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    model = nn.MLP([4, 3, 1])
    model.load_state_dict({k: v.numpy() for k, v in torch_model.state_dict().items()})
    _assert_same(model, torch_model, np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32))


# -- errors -------------------------------------------------------------------------------------------


class _Custom(nn.Module):
    def forward(self, x):
        return x * 2


def test_to_torch_names_the_first_unsupported_layer():
    model = nn.Sequential(nn.Linear(3, 3), nn.Sequential(nn.ReLU(), _Custom(), _Custom()))
    with pytest.raises(UnsupportedLayerError, match=r"layer '1\.1' \(.*_Custom\)"):
        to_torch(model)
    with pytest.raises(UnsupportedLayerError, match="the model itself"):
        to_torch(_Custom())
    with pytest.raises(TypeError, match="biograd Module"):
        to_torch(torch.nn.Linear(2, 2))


def test_from_torch_names_the_first_unsupported_layer():
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 4),
        torch.nn.ReLU(),
        torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4), torch.nn.LSTM(4, 4)),
    )
    with pytest.raises(UnsupportedLayerError, match=r"layer '2\.1' \(torch\.nn\..*BatchNorm1d\)"):
        from_torch(model)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(2, 2)

        def forward(self, x):
            return self.fc(x).relu()

    with pytest.raises(UnsupportedLayerError, match=r"the model itself .*custom module"):
        from_torch(Net())
    with pytest.raises(UnsupportedLayerError, match=r"layer '0'.*dilation"):
        from_torch(torch.nn.Sequential(torch.nn.Conv1d(2, 2, 3, dilation=2)))
    with pytest.raises(UnsupportedLayerError, match="dim is None"):
        from_torch(torch.nn.Softmax())
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"):
        from_torch(nn.Linear(2, 2))


# -- packaging ----------------------------------------------------------------------------------------


def test_converted_models_pickle_for_multiprocessing():
    torch_model = to_torch(nn.Sequential(nn.Conv1d(4, 2, 3), nn.GlobalMaxPool1d(), nn.Neuron(2)))
    again = pickle.loads(pickle.dumps(torch_model))
    x = torch.randn(2, 4, 8)
    torch.testing.assert_close(again(x), torch_model(x))


def test_import_interop_does_not_import_torch():
    code = "import sys, biograd, biograd.interop; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- the example script -------------------------------------------------------------------------------


def test_scale_with_pytorch_example_runs_quickly(capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "scale_with_pytorch.py"
    spec = importlib.util.spec_from_file_location("scale_with_pytorch", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    torch.manual_seed(0)
    result = example.main(["--biograd-epochs", "2", "--torch-epochs", "1", "--samples", "400"])
    assert result["exported"] == result["biograd"]  # the exported model predicts exactly as biograd's
    assert result["back"] == result["torch"]  # and the model brought back as PyTorch's
    assert result["torch"] > 0.6
    assert "torch epoch 1" in capsys.readouterr().out


def test_readme_handoff_example_runs():
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## When you outgrow biograd", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert isinstance(namespace["torch_model"], torch.nn.Sequential)
    assert isinstance(namespace["model"], nn.Sequential)


def test_global_max_pool_shares_tied_gradients_like_biograd():
    """Ties (e.g. several positions scoring the same motif) split the gradient in both frameworks."""
    x = np.array([[[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0]]], dtype=np.float32)
    _assert_same(nn.GlobalMaxPool1d(), to_torch(nn.GlobalMaxPool1d()), x)
    xb = biograd.tensor(x, requires_grad=True)
    nn.GlobalMaxPool1d()(xb).sum().backward()
    np.testing.assert_allclose(xb.grad, [[[0, 0.5, 0.5, 0], [0.25, 0.25, 0.25, 0.25]]])  # closed form
