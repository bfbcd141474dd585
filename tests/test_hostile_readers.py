"""Readers never guess silently and never read without bounds: every case of a table, FASTA file, label
file or .h5ad that used to be misread with exit 0 (or to exhaust memory) is now an error naming what is
wrong, or a warning saying what was decided."""

from __future__ import annotations

import gzip
import warnings
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biograd.bio import DataError, files, load_fasta, load_table, read_fasta, read_frame, read_labels, tabular
from biograd.bio import sequences as sequences_module
from biograd.cli import main


def table(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "expression": rng.normal(5, 1, n).round(6),
            "methylation": rng.uniform(0, 1, n).round(6),
            "status": np.where(np.arange(n) % 2 == 0, "healthy", "tumour"),
        }
    )


def write(tmp_path: Path, frame: pd.DataFrame, name: str = "data.csv", sep: str = ",") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False, sep=sep)
    return path


def no_warnings(call, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return call(*args, **kwargs)


# ------------------------------------------------------------------------------------------------------
# ID columns: only when clearly names, said when guessed
# ------------------------------------------------------------------------------------------------------


def test_a_numeric_column_with_one_typo_is_an_error_not_the_id_column(tmp_path):
    frame = table().astype({"expression": object})
    frame.loc[6, "expression"] = "1.2.3"  # every value different, one of them not a number
    with pytest.raises(DataError) as err:
        load_table(write(tmp_path, frame), target="status")
    message = str(err.value)
    assert "'expression'" in message and "'1.2.3'" in message and "line 8" in message  # header + row 7


def test_a_half_text_numeric_column_is_an_error_not_categories(tmp_path):
    frame = table().astype({"methylation": object})
    frame.loc[::3, "methylation"] = "low"  # 14 of 40 cells are words
    with pytest.raises(DataError, match=r"'methylation' holds numbers but 14 value\(s\) are text \('low'\)"):
        load_table(write(tmp_path, frame), target="status")


def test_an_id_column_named_as_such_is_taken_without_a_warning(tmp_path):
    frame = table().assign(sample_id=[f"S{i:02d}" for i in range(40)])
    result = no_warnings(load_table, write(tmp_path, frame), target="status")
    assert result.id_column == "sample_id" and result.ids[:2] == ["S00", "S01"]
    assert "sample_id" not in result.features.columns


def test_a_guessed_id_column_is_announced_with_the_reason(tmp_path):
    frame = table().assign(specimen=[f"TCGA-{i:04d}" for i in range(40)])
    with pytest.warns(UserWarning, match=r"took column 'specimen' for the sample IDs.*--id"):
        result = load_table(write(tmp_path, frame), target="status")
    assert result.id_column == "specimen"


def test_duplicate_ids_are_named(tmp_path):
    frame = table().assign(sample=[f"S{i % 38:02d}" for i in range(40)])  # S00 and S01 twice
    with pytest.raises(DataError, match=r"2 ID\(s\) in column 'sample'.*'S00' \(lines 2, 40\)"):
        load_table(write(tmp_path, frame), target="status", id_column="sample")


# ------------------------------------------------------------------------------------------------------
# Features and labels
# ------------------------------------------------------------------------------------------------------


def test_constant_features_are_dropped_with_a_warning(tmp_path):
    frame = table().assign(batch=7.0, platform="HiSeq")
    with pytest.warns(UserWarning, match=r"dropped 2 constant column\(s\).*'batch', 'platform'"):
        result = load_table(write(tmp_path, frame), target="status")
    assert list(result.features.columns) == ["expression", "methylation"]
    only_constant = table()[["status"]].assign(a=1.0, b="x")
    with pytest.raises(DataError, match="every feature column has a single value"):
        load_table(write(tmp_path, only_constant, "c.csv"), target="status")


def test_label_spellings_are_warned_about_and_merged_only_when_asked(tmp_path):
    frame = table()
    frame["status"] = (["yes", " yes", "Yes", "no"] * 10)[:40]
    path = write(tmp_path, frame)
    with pytest.warns(
        UserWarning, match=r"differ only by upper/lower case or spaces \(' yes' / 'Yes' / 'yes'\)"
    ):
        kept = load_table(path, target="status")
    assert kept.target_names == [" yes", "Yes", "no", "yes"]  # as written: the user decides
    with pytest.warns(UserWarning, match="merged"):
        merged = load_table(path, target="status", merge_labels=True)
    assert merged.target_names == ["no", "yes"]
    np.testing.assert_array_equal(merged.y, [1 if v.strip().lower() == "yes" else 0 for v in frame["status"]])


@pytest.mark.parametrize("value", [1e308, -1e308])
def test_finite_numbers_beyond_float32_are_named_not_called_nan(tmp_path, value):
    frame = table()
    frame.loc[4, "expression"] = value
    with pytest.raises(DataError) as err:
        load_table(write(tmp_path, frame), target="status")
    message = str(err.value)
    assert "'expression'" in message and "line 6" in message and "3.4e38" in message
    assert "NaN" not in message and "infinite" not in message


def test_a_tsv_with_commas_is_read_as_commas_with_a_warning(tmp_path):
    path = write(tmp_path, table(), "data.tsv", sep=",")
    with pytest.warns(UserWarning, match=r"no tab and 2 comma\(s\): read it as comma-separated"):
        result = load_table(path, target="status")
    assert list(result.features.columns) == ["expression", "methylation"]


# ------------------------------------------------------------------------------------------------------
# Label files of FASTA records
# ------------------------------------------------------------------------------------------------------


def fasta(tmp_path: Path, ids: list[str], sequences: list[str], name: str = "seqs.fa") -> Path:
    path = tmp_path / name
    path.write_text("".join(f">{i}\n{s}\n" for i, s in zip(ids, sequences, strict=True)))
    return path


def dna(n: int, length: int = 30, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("ACGT"), length)) for _ in range(n)]


def test_label_file_ids_stay_text(tmp_path):
    ids = [f"{i:03d}" for i in range(40)]  # 000 ... 039: numbers to pandas, names to biologists
    (tmp_path / "labels.csv").write_text(
        "id,label\n" + "".join(f"{i},{'bound' if n % 2 else 'free'}\n" for n, i in enumerate(ids))
    )
    data = load_fasta(fasta(tmp_path, ids, dna(40)), labels=tmp_path / "labels.csv")
    assert data.ids == ids and data.target_names == ["bound", "free"]
    np.testing.assert_array_equal(data.y, [0 if n % 2 else 1 for n in range(40)])


def test_na_is_an_id_and_blank_labels_are_missing(tmp_path):
    (tmp_path / "labels.csv").write_text("id,label\nNA,1\nnan,0\nNULL,1\nseq4,\n")
    labels = read_labels(tmp_path / "labels.csv")
    assert labels == {"NA": 1, "nan": 0, "NULL": 1, "seq4": None}
    path = fasta(tmp_path, ["NA", "nan", "NULL", "seq4"], dna(4))
    with pytest.raises(DataError, match=r"1 of 4 records have no label.*seq4"):
        load_fasta(path, labels=tmp_path / "labels.csv")


def test_label_file_with_a_repeated_id(tmp_path):
    (tmp_path / "labels.csv").write_text("id,label\nA,1\nB,0\nA,1\n")
    with pytest.raises(DataError, match=r"'A' \(lines 2, 4\)"):
        read_labels(tmp_path / "labels.csv")


def test_dna_mixed_with_protein_is_an_error_naming_records(tmp_path):
    rng = np.random.default_rng(1)
    proteins = ["".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), 30)) for _ in range(20)]
    ids = [f"dna{i}" for i in range(20)] + [f"prot{i}" for i in range(20)]
    path = fasta(tmp_path, ids, dna(20) + proteins)
    with pytest.raises(
        DataError, match=r"mixes DNA and protein.*20 record\(s\).*'dna0'.*20 are protein.*'prot0'"
    ):
        load_fasta(path, require_labels=False)


# ------------------------------------------------------------------------------------------------------
# Bounds: bombs, devices, long sequences, wide headers
# ------------------------------------------------------------------------------------------------------


def gzip_bomb(path: Path, header: bytes, filler: bytes, n_bytes: int) -> Path:
    """A small gzip file that unpacks to ``n_bytes``, compressed chunk by chunk (never all in memory)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip container
    chunk = filler * (1024**2 // len(filler))
    with open(path, "wb") as f:
        f.write(packer.compress(header))
        for _ in range(n_bytes // len(chunk)):
            f.write(packer.compress(chunk))
        f.write(packer.flush())
    return path


def test_a_csv_gzip_bomb_fails_fast_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_TEXT_BYTES", 8 * 1024**2)
    bomb = gzip_bomb(tmp_path / "data.csv.gz", b"a,b,y\n", b"1,2,0\n", 64 * 1024**2)
    assert bomb.stat().st_size < 200_000
    with pytest.raises(DataError, match=r"unpacks to more than the 8\.0 MB allowed"):
        load_table(bomb, target="y")


def test_a_fasta_gzip_bomb_fails_fast(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_TEXT_BYTES", 8 * 1024**2)
    bomb = gzip_bomb(tmp_path / "seqs.fa.gz", b">s1\n", b"ACGT" * 16 + b"\n", 64 * 1024**2)
    with pytest.raises(DataError, match="unpacks to more than"):
        read_fasta(bomb)


def test_a_damaged_fasta_gzip_is_a_data_error(tmp_path):
    packed = gzip.compress(b">s1\nACGT\n>s2\nACGA\n" * 50)
    path = tmp_path / "seqs.fa.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(DataError, match="damaged gzip file"):
        read_fasta(path)
    path.write_bytes(packed[:10] + bytes(40) + packed[50:])
    with pytest.raises(DataError, match="damaged gzip file"):
        read_fasta(path)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_devices_are_not_read(tmp_path):
    (tmp_path / "zero.csv").symlink_to("/dev/zero")
    with pytest.raises(DataError, match="not a regular file"):
        read_frame(tmp_path / "zero.csv")
    (tmp_path / "zero.fa").symlink_to("/dev/zero")
    with pytest.raises(DataError, match="not a regular file"):
        read_fasta(tmp_path / "zero.fa")


def test_a_file_larger_than_the_limit_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_TEXT_BYTES", 1000)
    path = write(tmp_path, table(100))
    with pytest.raises(DataError, match=r"more than the 1000 bytes allowed"):
        read_frame(path)


def test_one_far_longer_sequence_is_refused_by_name_not_padded_for_all(tmp_path):
    sequences = dna(30, 200)
    sequences[7] = dna(1, 1_000_000, seed=3)[0]
    path = fasta(tmp_path, [f"s{i}" for i in range(30)], sequences)
    with pytest.raises(DataError, match=r"far longer than the rest.*'s7' \(1,000,000 letters\)"):
        load_fasta(path, require_labels=False)
    with pytest.warns(UserWarning, match="1 longer one.*trimmed"):  # asked for explicitly: cut, said so
        cut = load_fasta(path, require_labels=False, length=200)
    assert cut.x.shape == (30, 4, 200)


def test_the_one_hot_size_is_bounded_before_allocation(monkeypatch):
    monkeypatch.setattr(sequences_module, "MAX_ONE_HOT_BYTES", 10_000)
    with pytest.raises(DataError, match="would take"):
        sequences_module.one_hot(dna(100, 100))


def test_too_many_columns_fail_before_pandas_parses(tmp_path, monkeypatch):
    monkeypatch.setattr(tabular, "MAX_COLUMNS", 1000)
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(5000)) + "\n" + ",".join("1" for _ in range(5000)) + "\n")
    with pytest.raises(DataError, match=r"5,000 columns.*more than the 1,000"):
        read_frame(path)


def test_duplicate_columns_among_80000_are_found(tmp_path):
    names = [f"g{i}" for i in range(80_000)] + ["g17", "y"]
    path = tmp_path / "wide.csv"
    path.write_text(",".join(names) + "\n" + ",".join("1" for _ in names) + "\n")
    with pytest.raises(DataError, match=r"duplicated column names 'g17'"):
        read_frame(path)


# ------------------------------------------------------------------------------------------------------
# The command line: exit 2 before anything is written
# ------------------------------------------------------------------------------------------------------


def test_cli_train_on_a_damaged_fasta_gzip_exits_2(tmp_path, capsys):
    packed = gzip.compress("".join(f">s{i} label={i % 2}\n{s}\n" for i, s in enumerate(dna(40))).encode())
    path = tmp_path / "seqs.fa.gz"
    path.write_bytes(packed[:-30])
    code = main(["train", str(path), "--quiet", "--epochs", "1", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "damaged gzip" in err and "bug" not in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()
