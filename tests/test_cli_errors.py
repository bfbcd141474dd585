"""Bad input, one case at a time: a clear message on stderr (one or two lines), exit code 2, no traceback
unless --debug, and no output directory left behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biograd.cli import main

FAST = ["--epochs", "3", "--quiet"]


def good_table(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"gene_a": rng.normal(size=n), "gene_b": rng.normal(size=n)})
    frame["status"] = np.where(frame.gene_a > 0, "disease", "healthy")
    return frame


def write(tmp_path: Path, frame: pd.DataFrame, name: str = "data.csv") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def fails(capsys, args: list[str], *phrases: str) -> str:
    """Run main(args); check exit code 2, a short stderr without traceback holding every phrase."""
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    error_lines = [line for line in err.splitlines() if not line.startswith("warning:")]
    assert 1 <= len(error_lines) <= 2, err
    for phrase in phrases:
        assert phrase in err, (phrase, err)
    return err


def no_output_left(tmp_path: Path) -> None:
    assert not (tmp_path / "run").exists()
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def train(path: Path, tmp_path: Path, *extra: str) -> list[str]:
    return ["train", str(path), *extra, *FAST, "--out", str(tmp_path / "run")]


def test_missing_file(tmp_path, capsys):
    fails(capsys, train(tmp_path / "nope.csv", tmp_path, "--target", "status"), "nope.csv", "not found")
    no_output_left(tmp_path)


def test_empty_file(tmp_path, capsys):
    path = tmp_path / "empty.csv"
    path.write_text("")
    fails(capsys, train(path, tmp_path, "--target", "status"), "empty")
    no_output_left(tmp_path)


def test_unreadable_binary_file(tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_bytes(b"\x00\x01\x02garbage\x00" * 50)
    fails(capsys, train(path, tmp_path, "--target", "status"), "not a text table")
    no_output_left(tmp_path)


def test_unknown_format(tmp_path, capsys):
    path = tmp_path / "data.xlsx"
    path.write_text("x")
    fails(capsys, train(path, tmp_path, "--target", "status"), ".csv", ".fasta", ".h5ad")


def test_target_missing_suggests_closest_names(tmp_path, capsys):
    path = write(tmp_path, good_table())
    fails(capsys, train(path, tmp_path, "--target", "Status"), "no column 'Status'", "Did you mean 'status'")
    no_output_left(tmp_path)


def test_target_with_a_single_class(tmp_path, capsys):
    frame = good_table()
    frame["status"] = "healthy"
    fails(capsys, train(write(tmp_path, frame), tmp_path, "--target", "status"), "single class")
    no_output_left(tmp_path)


def test_all_nan_target(tmp_path, capsys):
    frame = good_table()
    frame["status"] = np.nan
    fails(capsys, train(write(tmp_path, frame), tmp_path, "--target", "status"), "all 60 values missing")


def test_nan_and_inf_in_features_counted_per_column_then_impute_works(tmp_path, capsys):
    frame = good_table()
    frame.loc[[1, 2, 3], "gene_a"] = np.nan
    frame.loc[5, "gene_b"] = np.inf
    path = write(tmp_path, frame)
    fails(capsys, train(path, tmp_path, "--target", "status"), "gene_a (3)", "gene_b (1)", "--impute mean")
    no_output_left(tmp_path)
    assert main(train(path, tmp_path, "--target", "status", "--impute", "median")) == 0
    assert (tmp_path / "run" / "report.html").exists()


def test_duplicate_column_names(tmp_path, capsys):
    path = tmp_path / "dup.csv"
    rows = "\n".join(f"{i},{i * 2},{i % 2}" for i in range(30))
    path.write_text("gene,gene,status\n" + rows + "\n")
    fails(capsys, train(path, tmp_path, "--target", "status"), "duplicated column names 'gene'")


def test_text_column_with_too_many_categories(tmp_path, capsys):
    frame = good_table(n=120)
    frame["note"] = [f"free text {i % 70}" for i in range(120)]
    frame["sample"] = [f"S{i}" for i in range(120)]  # a unique ID column is fine: detected, not a feature
    fails(capsys, train(write(tmp_path, frame), tmp_path, "--target", "status"), "'note'", "70", "categories")


def test_fewer_than_20_samples(tmp_path, capsys):
    fails(
        capsys, train(write(tmp_path, good_table(n=12)), tmp_path, "--target", "status"), "12 samples", "20"
    )
    no_output_left(tmp_path)


def test_too_few_samples_for_the_requested_splits(tmp_path, capsys):
    frame = good_table(n=24)
    frame["status"] = ["a", "b", "c", "d", "e", "f"] * 4
    args = train(write(tmp_path, frame), tmp_path, "--target", "status", "--test-fraction", "0.1")
    fails(capsys, args, "too few for the requested splits", "between 0.25")


def test_class_imbalance_warns_and_trains(tmp_path, capsys):
    frame = good_table(n=100)
    frame["status"] = ["rare"] * 4 + ["common"] * 96
    code = main(train(write(tmp_path, frame), tmp_path, "--target", "status"))
    err = capsys.readouterr().err
    assert code == 0
    assert "warning: Class imbalance" in err and "'rare' has only 4 of 100" in err
    assert "warning: Few samples in class 'rare' of 'status': 4" in err


@pytest.mark.parametrize(
    ("option", "value", "phrase"),
    [
        ("--hidden", "64,x", "--hidden must be layer sizes"),
        ("--hidden", "64,-3", "--hidden must"),
        ("--lr", "-1", "--lr must be > 0"),
        ("--lr", "abc", "invalid float value"),
        ("--epochs", "0", "--epochs must be an int >= 1"),
        ("--batch-size", "0", "--batch-size must be an int >= 1"),
        ("--activation", "relux", "one of relu"),
        ("--dropout", "1.5", "--dropout must"),
        ("--test-fraction", "0", "--test-fraction must be a float in (0, 1)"),
        ("--optimizer", "adamm", "one of sgd, adam"),
    ],
)
def test_bad_settings_fail_before_reading_data(tmp_path, capsys, option, value, phrase):
    # the data file does not even exist: the setting is checked first
    args = ["train", str(tmp_path / "x.csv"), "--target", "y", option, value, "--out", str(tmp_path / "run")]
    err = fails(capsys, args, phrase) if option != "--lr" or value != "abc" else None
    if err is None:  # argparse's own message (with the usage line)
        assert main(args) == 2
        assert phrase in capsys.readouterr().err
    if option == "--activation":
        assert "tanh" in err and "gelu" in err


def test_no_data_and_no_dataset(tmp_path, capsys):
    fails(capsys, ["train", "--out", str(tmp_path / "run")], "--dataset")


def test_unknown_dataset_suggests_name(tmp_path, capsys):
    fails(capsys, ["train", "--dataset", "breast_cancr", "--out", str(tmp_path / "run")], "breast-cancer")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("model")
    path = write(root, good_table())
    assert main(["train", str(path), "--target", "status", *FAST, "--out", str(root / "model")]) == 0
    return root / "model"


def test_predict_with_missing_columns_names_them(trained, tmp_path, capsys):
    path = write(tmp_path, good_table().drop(columns=["gene_b"]))
    fails(capsys, ["predict", str(trained), str(path), "--out", str(tmp_path / "p.csv")], "'gene_b'")
    assert not (tmp_path / "p.csv").exists()


def test_evaluate_needs_the_target(trained, tmp_path, capsys):
    path = write(tmp_path, good_table().drop(columns=["status"]))
    fails(capsys, ["evaluate", str(trained), str(path)], "'status'")


def test_corrupt_model_directory(trained, tmp_path, capsys):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(trained, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    data = write(tmp_path, good_table())
    fails(capsys, ["predict", str(broken), str(data)], "model.safetensors")
    (broken / "model.json").write_text("{ not json")
    fails(capsys, ["predict", str(broken), str(data)], "model.json", "not valid JSON")


def test_foreign_model_directories(tmp_path, capsys):
    import biograd

    data = write(tmp_path, good_table())
    empty = tmp_path / "empty"
    empty.mkdir()
    fails(capsys, ["predict", str(empty), str(data)], "no saved model")
    plain = tmp_path / "plain"
    biograd.save(biograd.nn.MLP([2, 1]), plain)  # a biograd model, but not written by `biograd train`
    fails(capsys, ["predict", str(plain), str(data)], "did not write")
    fails(capsys, ["predict", str(tmp_path / "absent"), str(data)], "not found")


def test_debug_shows_the_traceback(tmp_path):
    from biograd.bio.errors import DataError

    path = write(tmp_path, good_table())
    with pytest.raises(DataError):
        main(train(path, tmp_path, "--target", "nope", "--debug"))


def test_out_directory_with_other_files_is_left_alone(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "thesis.docx").write_text("precious")
    path = write(tmp_path, good_table())
    fails(capsys, ["train", str(path), "--target", "status", *FAST, "--out", str(out)], "other files")
    assert (out / "thesis.docx").read_text() == "precious"
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_subprocess_missing_file_exit_code_and_stderr(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "biograd", "train", str(tmp_path / "missing.csv"), "--target", "y"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip().startswith("error:") and "missing.csv" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_subprocess_bad_hidden(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "biograd", "train", "--dataset", "motifs", "--hidden", "a,b"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "--hidden must" in proc.stderr and "Traceback" not in proc.stderr


def excel_like(tmp_path: Path, form: str) -> Path:
    """good_table() as a spreadsheet program (or pandas/R) might have saved it."""
    frame, path = good_table(), tmp_path / "data.csv"
    if form == "semicolons and decimal commas":
        frame.to_csv(path, sep=";", decimal=",", index=False)
    elif form == "cp1252":
        path.write_bytes(
            frame.assign(status=frame.status.str.replace("e", "é")).to_csv(index=False).encode("cp1252")
        )
    elif form == "trailing comma":
        path.write_text("".join(line + ",\n" for line in frame.to_csv(index=False).splitlines()))
    else:  # "saved index"
        frame.to_csv(path)
    return path


@pytest.mark.parametrize(
    "form,warning",
    [
        ("semicolons and decimal commas", "read decimal commas as decimal points in 2 column(s)"),
        ("cp1252", "is not UTF-8 text"),
        ("trailing comma", "dropped 1 empty column(s) (no value in any row): 'Unnamed: 3'"),
        ("saved index", "dropped column(s) 'Unnamed: 0': a saved row index"),
    ],
)
def test_tables_saved_by_spreadsheets_train_on_the_real_columns(tmp_path, capsys, form, warning):
    import json

    path = excel_like(tmp_path, form)
    code = main(train(path, tmp_path, "--target", "status"))
    err = capsys.readouterr().err
    assert code == 0, err
    assert warning in err, err
    info = json.loads((tmp_path / "run" / "model.json").read_text())
    assert info["metadata"]["preprocessing"]["table"]["columns"] == ["gene_a", "gene_b"]
    assert main(["predict", str(tmp_path / "run"), str(path), "--out", str(tmp_path / "p.csv")]) == 0
    assert len(pd.read_csv(tmp_path / "p.csv")) == 60


def test_messages_show_plain_values(tmp_path, capsys):
    frame = good_table()
    frame["status"] = "tumour"
    err = fails(
        capsys, train(write(tmp_path, frame), tmp_path, "--target", "status"), "single class ('tumour')"
    )
    assert "np." not in err


def test_fasta_with_label_in_the_id_and_final_stops_predicts_by_plain_id(tmp_path, capsys):
    rng = np.random.default_rng(0)
    amino_acids = np.array(list("ACDEFGHIKLMNPQRSTVWY"))
    lines = []
    for i in range(60):
        label = "amp" if i % 2 else "other"
        core = "".join(rng.choice(amino_acids, 20)) + ("KKRK" if label == "amp" else "DEED")
        lines += [f">p{i}|label={label}", core + "*"]
    path = tmp_path / "peptides.fa"
    path.write_text("\n".join(lines) + "\n")
    assert main(["train", str(path), *FAST, "--out", str(tmp_path / "run")]) == 0
    assert "removed the final '*' (stop codon) from 60 of 60 sequences" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "run"), str(path), "--out", str(tmp_path / "p.csv")]) == 0
    predictions = pd.read_csv(tmp_path / "p.csv")
    assert predictions.iloc[:, 0].tolist()[:3] == ["p0", "p1", "p2"], predictions.head()
