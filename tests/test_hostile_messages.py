"""Messages that used to mislead: each names the real problem, exits 2, and keeps its quotes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from biograd.cli import _one_message, main


def run(capsys, argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and "bug" not in err
    return err


@pytest.fixture
def table(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    rows = [f"{a:.4f},{b:.4f},{'up' if a > 0 else 'down'}" for a, b in rng.normal(size=(60, 2))]
    path = tmp_path / "d.csv"
    path.write_text("a,b,y\n" + "\n".join(rows) + "\n")
    return path


def test_a_huge_seed_is_named_as_the_problem(table, tmp_path, capsys):
    err = run(
        capsys, ["train", str(table), "--target", "y", "--seed", "9" * 20, "--out", str(tmp_path / "r")]
    )
    assert "'seed'" in err and "4294967295" in err and "too few" not in err


def test_a_huge_hidden_layer_is_refused_before_it_is_built(table, tmp_path, capsys):
    err = run(
        capsys, ["train", str(table), "--target", "y", "--hidden", "99999999", "--out", str(tmp_path / "r")]
    )
    assert "399,999,997 parameters" in err and "--hidden" in err
    assert not (tmp_path / "r").exists()


def test_a_one_sample_class_is_named_by_its_label(tmp_path, capsys):
    rows = [f"{i},{i % 3},{'x' if i < 30 else 'y'}" for i in range(59)] + ["5,1,lonely"]
    path = tmp_path / "one.csv"
    path.write_text("a,b,label\n" + "\n".join(rows) + "\n")
    err = run(capsys, ["train", str(path), "--target", "label", "--out", str(tmp_path / "r")])
    assert "Class 'lonely' has only 1 sample" in err and "too few" not in err and "class 2" not in err


def test_a_message_keeps_its_own_quotes():
    from biograd.bio.errors import DataError

    assert _one_message(DataError("'a.csv' has no column 'y'")) == "'a.csv' has no column 'y'"
    assert _one_message(KeyError("no such layer")) == "no such layer"


def test_merge_labels_on_the_command_line(tmp_path, capsys):
    rng = np.random.default_rng(1)
    spellings = ["yes", " yes", "Yes", "no"]
    rows = [f"{a:.4f},{b:.4f},{spellings[i % 4]}" for i, (a, b) in enumerate(rng.normal(size=(60, 2)))]
    path = tmp_path / "d.csv"
    path.write_text("a,b,answer\n" + "\n".join(rows) + "\n")
    base = ["train", str(path), "--target", "answer", "--epochs", "1", "--quiet"]
    assert main([*base, "--out", str(tmp_path / "kept")]) == 0
    captured = capsys.readouterr()
    assert "differ only by upper/lower case" in captured.err and "--merge-labels" in captured.err
    assert main([*base, "--merge-labels", "--out", str(tmp_path / "merged")]) == 0
    assert "classification (no 15, yes 45)" in capsys.readouterr().out


@pytest.mark.parametrize("value", [1e308, -1e308])
def test_fit_names_values_beyond_float32_instead_of_calling_them_nan(value):
    import biograd

    x = np.ones((10, 2))
    x[3, 1] = value
    with pytest.raises(ValueError) as err:
        biograd.fit(biograd.nn.MLP([2, 1]), x, np.arange(10) % 2, epochs=1, verbose=False)
    message = str(err.value)
    assert "(3, 1)" in message and "float32" in message and "NaN" not in message
