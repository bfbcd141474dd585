"""Hostile model files: whatever a model directory holds, ``biograd.load`` raises ModelFileError naming the
file (the CLI exits 2 with one line), allocates nothing the weights file does not hold, reads only regular
files of bounded size, and refuses NaN or infinite weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import biograd
from biograd import io
from biograd.cli import main
from biograd.io import ModelFileError
from biograd.nn import MLP, Conv1d, Linear, Neuron, ReLU, Sequential


@pytest.fixture
def saved(tmp_path) -> Path:
    biograd.manual_seed(0)
    return biograd.save(MLP([3, 4, 2]), tmp_path / "model")


def _document(directory: Path) -> dict:
    return json.loads((directory / "model.json").read_text())


def _write_document(directory: Path, document: dict) -> None:
    (directory / "model.json").write_text(json.dumps(document))


def _fails(path: Path, *phrases: str) -> str:
    with pytest.raises(ModelFileError) as err:
        biograd.load(path)
    message = str(err.value)
    assert "\n" not in message, message
    for phrase in phrases:
        assert phrase in message, (phrase, message)
    return message


# ------------------------------------------------------------------------------------------------------
# Only regular files, each of bounded size
# ------------------------------------------------------------------------------------------------------


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
@pytest.mark.parametrize("name", ["model.safetensors", "model.json"])
def test_a_file_pointing_at_dev_zero_is_refused_without_reading(saved, name):
    (saved / name).unlink()
    (saved / name).symlink_to("/dev/zero")
    _fails(saved, name, "not a regular file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_named_pipe_is_refused_instead_of_blocking(saved):
    (saved / "model.safetensors").unlink()
    os.mkfifo(saved / "model.safetensors")  # opened for reading, it would wait forever for a writer
    _fails(saved, "model.safetensors", "not a regular file")


@pytest.mark.parametrize("name", ["model.safetensors", "model.json"])
def test_a_directory_in_place_of_a_file(saved, name):
    (saved / name).unlink()
    (saved / name).mkdir()
    _fails(saved, name, "is a directory")


def test_files_larger_than_the_limits_are_refused_before_reading(saved, monkeypatch):
    monkeypatch.setattr(io.model, "MAX_JSON_BYTES", 100)  # the limits load() reads
    _fails(saved, "model.json", "more than the 100 bytes")
    monkeypatch.undo()
    monkeypatch.setattr(io.model, "MAX_WEIGHTS_BYTES", 50)
    _fails(saved, "model.safetensors", "more than the 50 bytes")


# ------------------------------------------------------------------------------------------------------
# JSON that Python's parser cannot take
# ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, phrase",
    [
        ("[" * 100_000 + "]" * 100_000, "too deeply"),  # RecursionError inside json.loads
        ('{"format": "biograd-model", "format_version": ' + "9" * 5000 + "}", "not valid JSON"),  # int limit
        ("\udcff".encode("utf-8", "surrogatepass").decode("latin-1"), "not text"),
        ("", "not valid JSON"),
        ("null", "not a biograd model"),
    ],
    ids=["100k-deep", "5000-digit-number", "not-utf8", "empty", "null"],
)
def test_json_the_parser_refuses_is_a_model_file_error(saved, text, phrase):
    (saved / "model.json").write_bytes(text.encode("latin-1"))
    _fails(saved, "model.json", phrase)


def test_a_deeply_nested_safetensors_header(saved):
    header = ("[" * 100_000 + "]" * 100_000).encode()
    header += b" " * (-len(header) % 8)
    (saved / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    document = _document(saved)
    document["weights"]["sha256"] = None  # skip the checksum so the parser itself is reached
    _write_document(saved, document)
    _fails(saved, "model.safetensors", "too deeply")


@pytest.mark.parametrize(
    "architecture, phrase",
    [
        ({"type": "MLP", "config": {"sizes": "3-4-2"}}, "cannot be rebuilt"),
        ({"type": "MLP", "config": {"sizes": [3, 4.5, 2]}}, "whole number"),
        ({"type": "MLP", "config": {"sizes": [3, 4, 2], "dropout": "lots"}}, "cannot be rebuilt"),
        ({"type": "Sequential", "config": {"layers": [{"type": "ReLU"}] * 20_000}}, "more than the 10,000"),
        ({"type": "Linear", "config": {"in_features": 3}}, "out_features"),
        (["MLP"], "cannot be rebuilt"),
        ({"type": "Sequential", "config": {"layers": "all of them"}}, "list of layers"),
        ({"type": "MLP", "config": {"sizes": [3, 4, 2], "surprise": 1}}, "cannot be rebuilt"),
    ],
)
def test_malformed_architectures_are_model_file_errors(saved, architecture, phrase):
    document = _document(saved)
    document["architecture"] = architecture
    _write_document(saved, document)
    _fails(saved, "model.json", phrase)


@pytest.mark.parametrize("depth, phrase", [(300, "do not fit the architecture"), (5000, "too deeply")])
def test_a_deeply_nested_architecture(saved, depth, phrase):
    # Sequential inside Sequential: 300 levels parse (and hold no weights); 5000 are too deep to parse
    nested = '{"type": "Sequential", "config": {"layers": [' * depth + '{"type": "ReLU"}' + "]}}" * depth
    document = json.dumps({**_document(saved), "architecture": None}).replace(
        '"architecture": null', '"architecture": ' + nested
    )
    (saved / "model.json").write_text(document)
    _fails(saved, "model.", phrase)


# ------------------------------------------------------------------------------------------------------
# Sizes checked before anything is allocated
# ------------------------------------------------------------------------------------------------------


def test_a_small_file_declaring_a_huge_network_allocates_nothing(saved):
    """30-12000-12000-1 would be 144 million float32 weights (576 MB; more in float64 while
    initializing): the declared shapes disagree with the 11 KB weights file, so nothing is built."""
    document = _document(saved)
    document["architecture"]["config"]["sizes"] = [30, 12000, 12000, 1]
    _write_document(saved, document)
    tracemalloc.start()
    try:
        message = _fails(saved, "model.safetensors", "144,396,001 weights", "'0.weight'", "(12000, 30)")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024**2, (peak, message)  # numpy reports its arrays to tracemalloc


def _examples() -> list:
    return [
        Linear(3, 2),
        Linear(3, 2, bias=False),
        Neuron(4, activation="sigmoid"),
        Conv1d(4, 6, 5),
        Conv1d(4, 6, 5, bias=False, padding="same"),
        MLP([3, 5, 2]),
        MLP([3, 5, 5, 1], dropout=0.2, output_activation="sigmoid"),
        MLP([3, 5, 1], activation=biograd.nn.LeakyReLU(0.2)),
        Sequential(Conv1d(4, 3, 2), ReLU(), biograd.nn.GlobalMaxPool1d(), Linear(3, 1)),
        Sequential(Sequential(Linear(2, 3), biograd.nn.Dropout(0.1)), biograd.nn.Flatten(), MLP([3, 1])),
        biograd.nn.Committee(
            [MLP([3, 4, 2]), Sequential(biograd.nn.Standardize([0.0] * 3, [1.0] * 3), MLP([3, 2]))]
        ),
    ]


@pytest.mark.parametrize("model", _examples(), ids=repr)
def test_declared_shapes_are_those_the_layers_allocate(model):
    """The oracle is the layer itself: building it and reading its state_dict."""
    declared = io.declared_shapes(biograd.nn.to_config(model))
    assert declared == {name: tuple(arr.shape) for name, arr in model.state_dict().items()}


def test_every_built_in_layer_has_its_shapes_known():
    """A new built-in layer must be added to declared_shapes (or to the parameter-free list), or a file
    naming it would be built before its size is checked."""
    with_formulas = {"Linear", "Neuron", "Conv1d", "MLP", "Sequential", "Committee"}
    assert set(biograd.nn.registered_layers()) == with_formulas | io.PARAMETER_FREE_LAYERS
    arguments = {"MaxPool1d": (2,), "Standardize": ([0.0, 1.0], [1.0, 2.0]), "SelectFeatures": ([0, 2], 4)}
    for name in io.PARAMETER_FREE_LAYERS:  # and those really hold no parameters
        cls = biograd.nn.module._LAYERS[name]
        instance = cls(*arguments.get(name, ()))
        assert instance.state_dict() == {}, name


def test_a_custom_layer_is_still_loaded(tmp_path):
    @biograd.nn.register_layer
    class Scale(biograd.nn.Module):
        def __init__(self, n: int = 2) -> None:
            super().__init__()
            self.n = n
            self.factor = biograd.nn.Parameter(np.ones(n, dtype=np.float32))

        def forward(self, x):
            return x * self.factor

        def get_config(self):
            return {"n": self.n}

    try:
        model = Sequential(Linear(2, 2), Scale(2))
        model[1].factor.data[:] = 3.0
        loaded = biograd.load(biograd.save(model, tmp_path / "custom"))
        np.testing.assert_array_equal(loaded[1].factor.data, [3.0, 3.0])
    finally:
        biograd.nn.module._LAYERS.pop("Scale", None)


# ------------------------------------------------------------------------------------------------------
# Non-finite weights
# ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_are_refused(tmp_path, value):
    model = MLP([3, 4, 2])
    model[0].weight.data[1, 2] = value
    path = biograd.save(model, tmp_path / "model")
    _fails(path, "model.safetensors", "NaN or infinite", "0.weight (1)")


def test_large_but_finite_weights_load(tmp_path):
    model = MLP([3, 4, 2]).double()
    model[0].weight.data[0, 0] = 1e308
    loaded = biograd.load(biograd.save(model, tmp_path / "model"))
    assert loaded[0].weight.data[0, 0] == 1e308


# ------------------------------------------------------------------------------------------------------
# Leftovers of killed saves
# ------------------------------------------------------------------------------------------------------


def test_temporary_files_of_killed_saves_are_removed_by_the_next_save(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    dead_pid = int(dead.stdout)  # that process has exited, so its temporary can never be finished
    directory = tmp_path / "model"
    directory.mkdir()
    stale = directory / f".model.safetensors.{dead_pid}.k3j2h1.tmp"
    stale.write_bytes(bytes(1000))
    live = directory / f".model.safetensors.{os.getppid()}.a1b2c3.tmp"  # a running writer: kept
    live.write_bytes(bytes(10))
    other = directory / "notes.tmp"  # not ours
    other.write_text("keep")
    biograd.save(Linear(2, 2), directory)
    assert not stale.exists()
    assert live.exists() and other.exists()
    assert not [p for p in directory.iterdir() if p.name.startswith(".model.json.")]


# ------------------------------------------------------------------------------------------------------
# The command line: exit 2, one line, no traceback
# ------------------------------------------------------------------------------------------------------


def _first_with(node, key):
    """The first dict under ``node`` (depth first) that has ``key``: an MLP's config, alone or in a
    committee's members."""
    if isinstance(node, dict):
        if key in node:
            return node
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = _first_with(child, key)
        if found is not None:
            return found
    return None


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("trained")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    lines = ["a,b,c,y"] + [f"{r[0]},{r[1]},{r[2]},{'up' if r[0] > 0 else 'down'}" for r in x]
    (root / "data.csv").write_text("\n".join(lines) + "\n")
    args = ["train", str(root / "data.csv"), "--target", "y", "--epochs", "2", "--quiet"]
    assert main([*args, "--out", str(root / "run")]) == 0
    return root


@pytest.mark.parametrize("damage", ["nan-weights", "dev-zero", "huge-architecture", "deep-json"])
def test_predict_with_a_hostile_model_exits_2_with_one_line(trained, tmp_path, capsys, damage):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained / "run", run)
    if damage == "nan-weights":
        model = biograd.load(run)
        next(iter(model.parameters())).data.flat[0] = np.nan  # one network or a committee of them
        document = _document(run)
        biograd.save(model, run)
        fresh = _document(run)
        document["weights"] = fresh["weights"]
        _write_document(run, document)
    elif damage == "dev-zero":
        (run / "model.safetensors").unlink()
        (run / "model.safetensors").symlink_to("/dev/zero")
    elif damage == "huge-architecture":
        document = _document(run)
        _first_with(document["architecture"], "sizes")["sizes"] = [3, 12000, 12000, 1]
        _write_document(run, document)
    else:
        (run / "model.json").write_text("[" * 100_000)
    out = tmp_path / "predictions.csv"
    code = main(["predict", str(run), str(trained / "data.csv"), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and "bug" not in err
    assert len([line for line in err.splitlines() if not line.startswith("warning:")]) == 1, err
    assert "model." in err
    assert not out.exists()


def test_class_names_that_do_not_fit_the_outputs_are_a_model_file_error(trained, tmp_path, capsys):
    """model.json naming five classes for a network with one output (two probabilities) used to end in
    'unexpected IndexError ... This looks like a bug'."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained / "run", run)
    document = _document(run)
    document["metadata"]["preprocessing"]["class_names"] = ["a", "b", "c", "d", "e"]
    _write_document(run, document)
    data = tmp_path / "new.csv"
    lines = (trained / "data.csv").read_text().splitlines()
    data.write_text("\n".join(line.rsplit(",", 1)[0] for line in lines) + "\n")  # without the target
    out = tmp_path / "p.csv"
    assert main(["predict", str(run), str(data), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "names 5 classes" in err and "gives 2 class probabilities" in err and "bug" not in err
    assert not out.exists()
