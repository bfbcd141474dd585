"""Saving and loading: our safetensors bytes against the safetensors package (both directions) and PyTorch,
model round trips, atomic writes, and one clear ModelFileError for every malformed file."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

import biograd
from biograd.io import ModelFileError, model_paths, read_safetensors, write_safetensors
from biograd.nn import MLP, Linear, Module
from torch_oracle import needs_torch, torch

safetensors_numpy = pytest.importorskip("safetensors.numpy")


def _arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "0.weight": rng.standard_normal((8, 4)).astype(np.float32),
        "0.bias": rng.standard_normal(8).astype(np.float32),
        "double": rng.standard_normal((2, 3, 2)),
        "half": rng.standard_normal(5).astype(np.float16),
        "counts": np.arange(6, dtype=np.int64).reshape(2, 3),
        "small": np.array([-3, 4], dtype=np.int8),
        "bytes": np.array([0, 255], dtype=np.uint8),
        "int32": np.array([1, -2, 3], dtype=np.int32),
        "mask": np.array([True, False, True]),
        "scalar": np.array(2.5, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "big_endian": np.arange(3, dtype=">f8"),
    }


def test_our_file_is_read_by_the_safetensors_package(tmp_path):
    from safetensors import safe_open

    arrays = _arrays()
    write_safetensors(tmp_path / "w.safetensors", arrays, {"producer": "test", "note": "ünïcode"})
    loaded = safetensors_numpy.load_file(str(tmp_path / "w.safetensors"))
    assert set(loaded) == set(arrays)
    for name, arr in arrays.items():
        assert loaded[name].shape == arr.shape
        assert loaded[name].dtype == arr.dtype.newbyteorder("=")
        np.testing.assert_array_equal(loaded[name], arr)
    with safe_open(str(tmp_path / "w.safetensors"), framework="numpy") as f:
        assert f.metadata() == {"producer": "test", "note": "ünïcode"}


def test_the_safetensors_package_file_is_read_by_us(tmp_path):
    arrays = {k: v.astype(v.dtype.newbyteorder("=")) for k, v in _arrays().items()}
    safetensors_numpy.save_file(arrays, str(tmp_path / "w.safetensors"), metadata={"format": "np"})
    loaded, metadata = read_safetensors(tmp_path / "w.safetensors")
    assert metadata == {"format": "np"}
    assert set(loaded) == set(arrays)
    for name, arr in arrays.items():
        assert loaded[name].dtype == arr.dtype and loaded[name].shape == arr.shape
        np.testing.assert_array_equal(loaded[name], arr)
        assert loaded[name].flags.writeable  # a copy, not a view of the file's bytes


def test_the_same_bytes_as_the_safetensors_package():
    # Same tensors, same order, same padding rule: the package's bytes are a second oracle.
    from safetensors.numpy import save

    from biograd.io import safetensors_bytes

    arrays = {"a": np.ones((2, 2), np.float32), "b": np.arange(3, dtype=np.float32)}
    ours, theirs = safetensors_bytes(arrays), save(arrays)
    assert len(ours) == len(theirs)
    n = int.from_bytes(ours[:8], "little")
    assert n % 8 == 0
    assert json.loads(ours[8 : 8 + n]) == json.loads(theirs[8 : 8 + int.from_bytes(theirs[:8], "little")])


@needs_torch
def test_torch_loads_a_saved_model_and_computes_the_same_outputs(tmp_path):
    from safetensors.torch import load_file

    biograd.manual_seed(1)
    model = MLP([4, 8, 3])
    biograd.save(model, tmp_path / "run")
    state = load_file(str(tmp_path / "run" / "model.safetensors"))
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    net.load_state_dict(state)
    x = np.random.default_rng(2).standard_normal((5, 4)).astype(np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(biograd.predict(model, x), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["run", "nested/dir/run", "net.safetensors", "net.json"])
def test_round_trip_gives_identical_predictions(tmp_path, name):
    biograd.manual_seed(0)
    model = MLP([5, 16, 16, 3], dropout=0.2, activation="tanh")
    x = np.random.default_rng(0).standard_normal((20, 5)).astype(np.float32)
    before = biograd.predict(model, x)
    written = biograd.save(
        model,
        tmp_path / name,
        metadata={
            "feature_names": list("abcde"),
            "preprocessing": {"mean": np.arange(5.0), "std": np.ones(5, np.float32)},
            "note": "anything JSON-able",
        },
    )
    weights, config = model_paths(tmp_path / name)
    assert weights.exists() and config.exists()
    assert written.exists()
    loaded, info = biograd.load(tmp_path / name, with_metadata=True)
    assert type(loaded) is type(model) and not loaded.training
    np.testing.assert_array_equal(biograd.predict(loaded, x), before)
    assert info["feature_names"] == list("abcde")
    assert info["preprocessing"] == {"mean": [0, 1, 2, 3, 4], "std": [1, 1, 1, 1, 1]}
    assert info["note"] == "anything JSON-able"
    assert info["biograd_version"] == biograd.__version__ and info["format_version"] == 1


def test_directory_layout_for_the_cli(tmp_path):
    biograd.save(Linear(3, 2), tmp_path / "runs" / "x")
    assert sorted(p.name for p in (tmp_path / "runs" / "x").iterdir()) == ["model.json", "model.safetensors"]


@pytest.mark.filterwarnings("ignore::biograd.training.ConvergenceWarning")
def test_fitted_classifier_keeps_its_class_labels_through_save_and_load(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 2)).astype(np.float32)
    y = np.where(x[:, 0] > 0, "tumour", "normal")
    biograd.manual_seed(0)
    model = MLP([2, 8, 1])
    history = biograd.fit(model, x, y, epochs=30, lr=0.05, seed=0, verbose=False)
    biograd.save(model, tmp_path / "m", history=history)
    loaded, info = biograd.load(tmp_path / "m", with_metadata=True)
    assert info["class_names"] == ["normal", "tumour"] and info["task"] == "classification"
    assert info["training"]["epochs_run"] == history.epochs_run
    assert list(biograd.predict(loaded, x)) == list(biograd.predict(model, x))
    assert set(biograd.predict(loaded, x)) <= {"normal", "tumour"}


class _Custom(Module):  # a layer biograd's registry does not know
    def __init__(self):
        super().__init__()
        self.inner = Linear(2, 1)

    def forward(self, x):
        return self.inner(x)


def test_custom_module_saves_weights_only_and_loads_into_a_given_model(tmp_path):
    model = _Custom()
    biograd.save(model, tmp_path / "c")
    with pytest.raises(ModelFileError, match="records no architecture"):
        biograd.load(tmp_path / "c")
    other = biograd.load(tmp_path / "c", model=_Custom())
    np.testing.assert_array_equal(other.inner.weight.data, model.inner.weight.data)


def test_metadata_that_is_not_json_is_refused(tmp_path):
    with pytest.raises(TypeError, match="JSON"):
        biograd.save(Linear(2, 1), tmp_path / "m", metadata={"bad": object()})
    assert not (tmp_path / "m" / "model.json").exists()


def test_interrupted_save_keeps_the_old_files_intact(tmp_path, monkeypatch):
    old = Linear(3, 2)
    biograd.save(old, tmp_path / "m")
    before = {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()}

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C in the middle of writing

    monkeypatch.setattr(os, "fsync", crash)
    new = Linear(3, 2)
    new.weight.data = new.weight.data + 1
    with pytest.raises(KeyboardInterrupt):
        biograd.save(new, tmp_path / "m")
    monkeypatch.undo()
    after = {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()}
    assert after == before  # same files, same bytes, no temporary file left behind
    np.testing.assert_array_equal(biograd.load(tmp_path / "m").weight.data, old.weight.data)


# --------------------------------------------------------------------------------------------------
# Malformed files: one exception type, naming the file and the problem
# --------------------------------------------------------------------------------------------------


def _header(tensors: dict, data_len: int | None = None, raw: bytes | None = None) -> bytes:
    text = raw if raw is not None else json.dumps(tensors).encode()
    return len(text).to_bytes(8, "little") + text


def _rewrite_weights(directory: Path, data: bytes) -> Path:
    """Replace model.safetensors and update the checksum, so load reaches the safetensors parser."""
    path = directory / "model.safetensors"
    path.write_bytes(data)
    doc = json.loads((directory / "model.json").read_text())
    doc["weights"]["sha256"] = hashlib.sha256(data).hexdigest()
    (directory / "model.json").write_text(json.dumps(doc))
    return path


@pytest.fixture
def saved(tmp_path) -> Path:
    biograd.manual_seed(0)
    biograd.save(MLP([3, 4, 2]), tmp_path / "m")
    return tmp_path / "m"


GOOD = {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}
MALFORMED = {
    "shorter than 8 bytes": (b"\x01\x02", "only 2 bytes"),
    "header length beyond the file": (_header(GOOD)[:8] + b"{}", "truncated"),
    "header not JSON": (_header({}, raw=b"{not json") + bytes(8), "not valid JSON"),
    "header not an object": (_header({}, raw=b"[1, 2]   "), "JSON object"),
    "unknown dtype": (
        _header({"w": {"dtype": "F99", "shape": [2], "data_offsets": [0, 8]}}) + bytes(8),
        "unknown dtype 'F99'",
    ),
    "offsets outside the data": (
        _header({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}) + bytes(8),
        "truncated",
    ),
    "shape and offsets disagree": (
        _header({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}) + bytes(8),
        "needs 12 bytes",
    ),
    "negative range": (
        _header({"w": {"dtype": "F32", "shape": [0], "data_offsets": [8, 0]}}) + bytes(8),
        "begin must be <= end",
    ),
    "missing field": (_header({"w": {"dtype": "F32", "shape": [2]}}) + bytes(8), "data_offsets"),
    "bad shape": (
        _header({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}) + bytes(8),
        "shape",
    ),
    "gap between tensors": (
        _header({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}) + bytes(8),
        "gaps or overlaps",
    ),
    "bytes after the last tensor": (_header(GOOD) + bytes(12), "belong to no tensor"),
    "metadata not text": (_header({"__metadata__": {"a": 1}}), "text to text"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_safetensors_raise_a_clear_error(tmp_path, case):
    data, message = MALFORMED[case]
    path = tmp_path / "bad.safetensors"
    path.write_bytes(data)
    with pytest.raises(ModelFileError, match=message) as err:
        read_safetensors(path)
    assert str(path) in str(err.value)
    if case not in ("shorter than 8 bytes",):
        with pytest.raises(Exception):  # noqa: B017
            safetensors_numpy.load_file(str(path))  # the reference library refuses it too


@pytest.mark.parametrize("case", ["header not JSON", "unknown dtype", "offsets outside the data"])
def test_load_reports_safetensors_problems_with_the_file_name(saved, case):
    path = _rewrite_weights(saved, MALFORMED[case][0])
    with pytest.raises(ModelFileError, match=MALFORMED[case][1]) as err:
        biograd.load(saved)
    assert str(path) in str(err.value)


def test_truncated_weights_file(saved):
    path = saved / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ModelFileError, match="checksum") as err:
        biograd.load(saved)
    assert str(path) in str(err.value)
    # and with the checksum made to agree, the parser itself finds the truncation
    _rewrite_weights(saved, path.read_bytes())
    with pytest.raises(ModelFileError, match="truncated"):
        biograd.load(saved)


def test_corrupted_weight_bytes_are_caught_by_the_checksum(saved):
    path = saved / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # one flipped bit pattern in the last weight
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="checksum"):
        biograd.load(saved)


def test_bad_json(saved):
    (saved / "model.json").write_text('{"format": "biograd-model", ')
    with pytest.raises(ModelFileError, match="not valid JSON") as err:
        biograd.load(saved)
    assert "model.json" in str(err.value)


def test_not_a_biograd_file(saved):
    (saved / "model.json").write_text('{"hello": 1}')
    with pytest.raises(ModelFileError, match="not a biograd model"):
        biograd.load(saved)


@pytest.mark.parametrize(
    "version, hint", [(2, "newer biograd"), (0, "reads version 1"), ("1", "reads version 1")]
)
def test_wrong_format_version(saved, version, hint):
    doc = json.loads((saved / "model.json").read_text())
    doc["format_version"] = version
    (saved / "model.json").write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match=hint):
        biograd.load(saved)


def test_missing_files(saved, tmp_path):
    with pytest.raises(ModelFileError, match="no saved model here"):
        biograd.load(tmp_path / "nothing")
    (saved / "model.safetensors").unlink()
    with pytest.raises(ModelFileError, match=r"model\.safetensors: no such file"):
        biograd.load(saved)
    biograd.save(Linear(2, 2), tmp_path / "other")
    (tmp_path / "other" / "model.json").unlink()
    with pytest.raises(ModelFileError, match=r"model\.json: no such file"):
        biograd.load(tmp_path / "other")


def test_architecture_and_weights_mismatch(saved, tmp_path):
    # the JSON describes a wider network than the weights hold
    doc = json.loads((saved / "model.json").read_text())
    doc["architecture"]["config"]["sizes"] = [3, 5, 2]
    (saved / "model.json").write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match=r"do not fit the architecture.*0\.weight") as err:
        biograd.load(saved)
    assert "model.safetensors" in str(err.value)
    # weights of a deeper network under the same architecture: missing/unexpected keys are named
    biograd.save(MLP([3, 4, 4, 2]), tmp_path / "deep")
    deep = (tmp_path / "deep" / "model.safetensors").read_bytes()
    doc["architecture"]["config"]["sizes"] = [3, 4, 2]
    (saved / "model.json").write_text(json.dumps(doc))
    _rewrite_weights(saved, deep)
    with pytest.raises(ModelFileError, match=r"unexpected keys: 4\.bias, 4\.weight"):
        biograd.load(saved)


def test_unknown_layer_in_architecture(saved):
    doc = json.loads((saved / "model.json").read_text())
    doc["architecture"]["type"] = "Transformer9000"
    (saved / "model.json").write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="cannot be rebuilt"):
        biograd.load(saved)


def test_model_file_error_is_a_value_error():
    assert issubclass(ModelFileError, ValueError)
    assert biograd.ModelFileError is ModelFileError


def test_saved_files_are_ordinary_files_readable_under_the_umask(tmp_path):
    """mkstemp makes private (0600) files; a saved model must get the usual mode, like open() would give."""
    import stat

    old = os.umask(0o022)
    try:
        biograd.save(Linear(2, 1), tmp_path / "m")
        (tmp_path / "plain.txt").write_text("x")  # what open() gives under the same umask: the oracle
    finally:
        os.umask(old)
    expected = stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode)
    for name in ("model.safetensors", "model.json"):
        assert stat.S_IMODE((tmp_path / "m" / name).stat().st_mode) == expected


def test_a_float64_model_comes_back_in_float64_with_identical_outputs(tmp_path):
    biograd.manual_seed(0)
    model = MLP([5, 3, 1]).double()
    x = np.random.default_rng(0).normal(size=(4, 5))
    biograd.save(model, tmp_path / "m")
    loaded = biograd.load(tmp_path / "m")
    assert all(p.dtype == np.float64 for p in loaded.parameters())
    with biograd.no_grad():
        np.testing.assert_array_equal(loaded(biograd.tensor(x, dtype=np.float64)).data, model(x).data)


def test_a_save_interrupted_between_weights_and_json_leaves_the_old_model_loadable(tmp_path, monkeypatch):
    import biograd.io.model as io_model

    biograd.manual_seed(0)
    old, new = MLP([3, 2, 1]), MLP([3, 2, 1])
    biograd.save(old, tmp_path / "m")
    real_write = io_model._atomic_write

    def crash_on_json(path, data):
        if path.suffix == ".json":
            raise KeyboardInterrupt  # the power went out after the weights were renamed into place
        real_write(path, data)

    monkeypatch.setattr(io_model, "_atomic_write", crash_on_json)
    with pytest.raises(KeyboardInterrupt):
        biograd.save(new, tmp_path / "m")
    monkeypatch.setattr(io_model, "_atomic_write", real_write)
    with pytest.warns(UserWarning, match="interrupted"):
        loaded = biograd.load(tmp_path / "m")
    for key, value in old.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[key], value)
    biograd.save(new, tmp_path / "m")  # a complete save afterwards: the new model, no backup left
    np.testing.assert_array_equal(
        biograd.load(tmp_path / "m").state_dict()["0.weight"], new.state_dict()["0.weight"]
    )
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["model.json", "model.safetensors"]
