"""FASTA reading and one-hot encoding, checked against hand-written expectations (closed forms)."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from biograd.bio import DataError, guess_alphabet, load_fasta, one_hot, read_fasta

FASTA = """>seq1 promoter of geneA label=bound
ACGTacgt
NNRY
>seq2 label=unbound

ggccTTAA
;a comment
>seq3 label=bound something else
AC
"""


def test_read_fasta_multiline_softmasking_headers(tmp_path):
    path = tmp_path / "x.fa"
    path.write_text(FASTA)
    records = read_fasta(path)
    assert [r.id for r in records] == ["seq1", "seq2", "seq3"]
    assert records[0].sequence == "ACGTACGTNNRY"
    assert records[0].description == "promoter of geneA label=bound"
    assert [r.label for r in records] == ["bound", "unbound", "bound"]
    assert records[1].sequence == "GGCCTTAA" and records[2].line == 8
    assert [r.sequence for r in read_fasta(FASTA)] == [r.sequence for r in records]  # text works too
    with pytest.warns(UserWarning, match=r"removed the final '\*' \(stop codon\) from 1 of 1"):
        assert read_fasta(">p1\nMKV*\n")[0].sequence == "MKV"
    gz = tmp_path / "x.fa.gz"
    gz.write_bytes(gzip.compress(FASTA.encode()))
    assert [r.sequence for r in read_fasta(gz)] == [r.sequence for r in records]


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "is empty"),
        ("\n\n", "is empty"),
        ("ACGT\n>x\nAC\n", "line 1: expected a header"),
        (">a\nACGT\n>b\n>c\nAC\n", "line 3: record 'b' has no sequence"),
        (">a\nACGT\n>a\nAC\n", "line 3: the ID 'a' was already used on line 1"),
        (">a\nAC1T\n", r"line 2: the character '1'"),
        (">\nACGT\n", "line 1: a '>' header without an ID"),
    ],
)
def test_read_fasta_errors_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "bad.fasta"
    path.write_text(text)
    with pytest.raises(DataError, match=message) as info:
        read_fasta(path)
    assert "bad.fasta" in str(info.value)


def test_read_fasta_missing_and_binary(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope.fa"):
        read_fasta(tmp_path / "nope.fa")
    binary = tmp_path / "b.fa"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(DataError, match=r"not a text file"):
        read_fasta(binary)


def test_one_hot_dna_with_iupac_codes():
    x = one_hot(["ACGTNRa-"])
    expected = np.array(
        [
            [1, 0, 0, 0, 0.25, 0.5, 1, 0],  # A
            [0, 1, 0, 0, 0.25, 0.0, 0, 0],  # C
            [0, 0, 1, 0, 0.25, 0.5, 0, 0],  # G
            [0, 0, 0, 1, 0.25, 0.0, 0, 0],  # T
        ],
        dtype=np.float32,
    )
    assert x.dtype == np.float32 and x.shape == (1, 4, 8)
    np.testing.assert_array_equal(x[0], expected)
    zero = one_hot(["ACNR"], ambiguous="zero")
    np.testing.assert_array_equal(zero[0, :, 2:], 0)
    # every IUPAC code sums to one (a probability over the bases it stands for)
    codes = "RYSWKMBDHVN"
    np.testing.assert_allclose(one_hot([codes])[0].sum(axis=0), 1.0, rtol=1e-6)
    np.testing.assert_allclose(one_hot(["B"])[0, :, 0], [0, 1 / 3, 1 / 3, 1 / 3], rtol=1e-6)


def test_one_hot_rna_and_protein():
    np.testing.assert_array_equal(one_hot(["ACGU"], "rna")[0], np.eye(4))
    protein = "ACDEFGHIKLMNPQRSTVWY"
    np.testing.assert_array_equal(one_hot([protein], "protein")[0], np.eye(20))
    x = one_hot(["XB"], "protein")[0]
    np.testing.assert_allclose(x[:, 0], 1 / 20, rtol=1e-6)
    assert x[protein.index("D"), 1] == 0.5 and x[protein.index("N"), 1] == 0.5


def test_one_hot_pads_and_trims_with_a_warning():
    with pytest.warns(UserWarning, match=r"2 of 3 sequences are not 4 long.*2 shorter one"):
        x = one_hot(["ACGT", "AC", "G"])
    assert x.shape == (3, 4, 4)
    np.testing.assert_array_equal(x[1, :, 2:], 0)
    with pytest.warns(UserWarning, match=r"1 shorter one.*padded.*1 longer one.*trimmed"):
        x = one_hot(["ACGTAA", "AC", "GTA"], length=3)
    assert x.shape == (3, 4, 3)
    np.testing.assert_array_equal(x[0], one_hot(["ACG"])[0])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        one_hot(["ACGT", "TTTT"])  # equal lengths: no warning


def test_one_hot_unknown_letter_names_sequence_and_position():
    with pytest.raises(DataError, match=r"s2: unknown letter 'E' at position 3 for alphabet 'dna'"):
        one_hot(["ACGT", "ACEG"], ids=["s1", "s2"])
    with pytest.raises(DataError, match=r"sequence 1: unknown letter 'Z' at position 2.*protein"):
        one_hot(["MZ"], "dna")
    with pytest.raises(DataError, match=r"'U' at position 4.*rna"):
        one_hot(["ACGU"], "dna")
    with pytest.raises(ValueError, match=r"'alphabet' parameter"):
        one_hot(["ACGT"], "amino")


def test_guess_alphabet():
    assert guess_alphabet(["ACGTNNACGT"]) == "dna"
    assert guess_alphabet(["ACGUUAG"]) == "rna"
    assert guess_alphabet(["MKTAYIAKQRQISFVKSHFSRQ"]) == "protein"
    assert guess_alphabet(["ACGT#"]) is None


def test_load_fasta_with_header_labels_or_csv(tmp_path):
    fasta = tmp_path / "seqs.fa"
    fasta.write_text(FASTA)
    with pytest.warns(UserWarning, match=r"padded"):
        data = load_fasta(fasta)
    assert data.x.shape == (3, 4, 12) and data.kind == "dna"
    assert data.target_names == ["bound", "unbound"] and data.y.tolist() == [0, 1, 0]
    assert data.ids == ["seq1", "seq2", "seq3"] and data.feature_names == list("ACGT")

    labels = tmp_path / "labels.csv"
    labels.write_text("id,activity\nseq3,2.5\nseq1,0.1\nseq2,7.25\n")
    with pytest.warns(UserWarning):
        data = load_fasta(fasta, labels=labels, length=8)
    assert data.task == "regression" and data.x.shape == (3, 4, 8)
    np.testing.assert_allclose(data.y, [0.1, 7.25, 2.5])

    partial = tmp_path / "partial.csv"
    partial.write_text("id,label\nseq1,a\n")
    with pytest.raises(DataError, match=r"2 of 3 records have no label"), pytest.warns(UserWarning):
        load_fasta(fasta, labels=partial)
    unlabeled = tmp_path / "u.fa"
    unlabeled.write_text(">a\nACGT\n>b\nACGA\n")
    data = load_fasta(unlabeled, require_labels=False)
    assert data.y is None and data.x.shape == (2, 4, 4)


@pytest.mark.parametrize(
    "header",
    [">p0|label=amp", ">p0 label=amp", ">p0\tlabel=amp", ">label=amp|p0", ">p0;label=amp some words"],
)
def test_label_field_is_not_part_of_the_id(header):
    record = read_fasta(f"{header}\nMKV\n>p1|label=other\nMKA\n")[0]
    assert (record.id, record.label) == ("p0", "amp")


def test_label_field_stripped_ids_match_a_labels_file_and_stay_unique(tmp_path):
    assert read_fasta(">p0|label=amp|human\nMKV\n")[0].id == "p0|human"  # other fields stay
    assert read_fasta(">label=amp\nMKV\n")[0].id == "label=amp"  # nothing else to call it
    labels = tmp_path / "labels.csv"
    labels.write_text("id,activity\np1,2.5\np0,0.5\n")
    data = load_fasta(">p0|label=amp\nMKVL\n>p1|label=other\nMKAL\n", labels=labels)
    assert data.ids == ["p0", "p1"] and data.y.tolist() == [0.5, 2.5]
    with pytest.raises(DataError, match=r"line 3: the ID 'p0' was already used on line 1"):
        read_fasta(">p0|label=amp\nMKV\n>p0|label=other\nMKA\n")


def test_final_stop_codons_are_removed_with_a_count():
    text = ">a label=x\nMKV\nLL*\n>b label=y\nMKAAA*\n>c label=x\nMKAWC\n"
    with pytest.warns(UserWarning, match=r"from 2 of 3 sequences"):
        data = load_fasta(text)
    assert data.kind == "protein" and data.sequences == ["MKVLL", "MKAAA", "MKAWC"]
    assert data.x.shape == (3, 20, 5) and data.x.sum(axis=1).tolist() == [[1.0] * 5] * 3
    with pytest.warns(UserWarning, match=r"Removed the final '\*' \(stop codon\) from 1 of 2"):
        x = one_hot(["MKV*", "MKV"], "protein")
    np.testing.assert_array_equal(x[0], x[1])


def test_a_stop_codon_inside_a_sequence_is_a_clear_error(tmp_path):
    path = tmp_path / "translated.fa"
    path.write_text(">a\nMKVLL\nAK*LW\n>b\nMKA\n")
    with pytest.raises(DataError, match=r"line 3: record 'a': '\*' \(a stop codon\) at position 8 of 10"):
        load_fasta(path)
    with pytest.raises(DataError, match=r"s1: '\*' \(a stop codon\) at position 2 of 3.*first stop codon"):
        one_hot(["M*K"], "protein", ids=["s1"])


def test_unguessable_alphabet_names_the_letter_and_the_record():
    with pytest.raises(DataError, match=r"letter 'O' \(record 'b', position 3\) is neither a nucleotide"):
        load_fasta(">a\nMKV\n>b\nMKOV\n")
    with pytest.raises(DataError, match=r"mix U \(RNA\) with T"):
        load_fasta(">a\nACGU\n>b\nACGT\n")


def test_wrong_alphabet_hint_serves_the_command_line_and_python():
    with pytest.raises(DataError) as err:
        one_hot(["MKWLLE"], "dna")
    assert "alphabet='protein' in Python" in str(err.value) and "model trained on protein" in str(err.value)
