"""Sequences: reading FASTA files and turning DNA, RNA or protein into numbers a network can use.

One-hot encoding gives every letter its own channel: ``ACGT`` becomes a 4 x 4 matrix with one 1 per
column (position). A convolution filter sliding along this matrix is a learned position weight matrix.

>>> from biograd.bio import one_hot
>>> one_hot(["ACGTN"])[0]                                    # doctest: +NORMALIZE_WHITESPACE
array([[1.  , 0.  , 0.  , 0.  , 0.25],
       [0.  , 1.  , 0.  , 0.  , 0.25],
       [0.  , 0.  , 1.  , 0.  , 0.25],
       [0.  , 0.  , 0.  , 1.  , 0.25]], dtype=float32)
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np

from biograd.bio.dataset import Dataset
from biograd.bio.errors import DataError

#: The letters of each alphabet, in channel order (channel c of a one-hot array is ALPHABETS[a][c]).
ALPHABETS: dict[str, str] = {
    "dna": "ACGT",
    "rna": "ACGU",
    "protein": "ACDEFGHIKLMNPQRSTVWY",
}

# IUPAC ambiguity codes: the bases each letter may stand for (T is read as U for RNA).
_NUCLEOTIDE_CODES = {
    "R": "AG",
    "Y": "CT",
    "S": "CG",
    "W": "AT",
    "K": "GT",
    "M": "AC",
    "B": "CGT",
    "D": "AGT",
    "H": "ACT",
    "V": "ACG",
    "N": "ACGT",
}
_PROTEIN_CODES = {"B": "DN", "Z": "EQ", "J": "IL", "X": ALPHABETS["protein"]}
#: Gap characters: encoded as an all-zero column (no letter there).
GAPS = "-."


def _ambiguity_codes(alphabet: str) -> dict[str, str]:
    if alphabet == "protein":
        return _PROTEIN_CODES
    if alphabet == "rna":
        return {code: bases.replace("T", "U") for code, bases in _NUCLEOTIDE_CODES.items()}
    return _NUCLEOTIDE_CODES


def _lookup_table(alphabet: str, ambiguous: str) -> tuple[np.ndarray, np.ndarray]:
    """(256, channels) rows of the one-hot encoding for each byte, and which bytes are allowed."""
    letters = ALPHABETS[alphabet]
    table = np.zeros((256, len(letters)), dtype=np.float32)
    allowed = np.zeros(256, dtype=bool)
    for c, letter in enumerate(letters):
        for ch in (letter, letter.lower()):
            table[ord(ch), c] = 1.0
            allowed[ord(ch)] = True
    for code, bases in _ambiguity_codes(alphabet).items():
        for ch in (code, code.lower()):
            allowed[ord(ch)] = True
            if ambiguous == "fractional":
                for base in bases:
                    table[ord(ch), letters.index(base)] = 1.0 / len(bases)
    for ch in GAPS:
        allowed[ord(ch)] = True
    return table, allowed


def one_hot(
    seqs: Sequence[str] | str,
    alphabet: str = "dna",
    length: int | None = None,
    ids: Sequence[str] | None = None,
    ambiguous: str = "fractional",
) -> np.ndarray:
    """One-hot encode sequences into a float32 array of shape (samples, letters, length).

    Channel c holds letter ``ALPHABETS[alphabet][c]`` ("ACGT" for DNA, "ACGU" for RNA, the 20 amino
    acids "ACDEFGHIKLMNPQRSTVWY" for protein), as PyTorch's Conv1d expects (channels first).

    Args:
        seqs: the sequences (lowercase soft-masked letters are read as uppercase).
        alphabet: "dna", "rna" or "protein".
        length: the length of the output. Default: the longest sequence, unless some are far longer than
            the rest (more than 10 times the 90th percentile and 1000 letters: an error naming them, rather
            than padding all to their length). Shorter sequences are padded with all-zero columns at the
            end, longer ones trimmed at the end; a warning says how many.
        ids: names used in error messages (FASTA record IDs); default "sequence 1", "sequence 2", ...
        ambiguous: how IUPAC ambiguity codes are encoded. "fractional" (default) spreads 1 over the
            letters a code stands for (DNA: N = 0.25 each of A, C, G, T; R = A or G = 0.5 each; protein:
            X = 1/20 each, B = D/N, Z = E/Q, J = I/L); "zero" makes them all-zero columns, like padding.
            Gaps ("-" or ".") are always all-zero columns.

    Raises:
        DataError: a letter that is not in the alphabet, naming the sequence and the position; a sequence
            far longer than the rest (with the default length); an array beyond MAX_ONE_HOT_BYTES.
    """
    if isinstance(seqs, str):
        seqs = [seqs]
    alphabet = str(alphabet).lower()
    if alphabet not in ALPHABETS:
        raise ValueError(
            "The 'alphabet' parameter of one_hot must be one of 'dna', 'rna', 'protein'. "
            f"Got {alphabet!r} instead."
        )
    if ambiguous not in ("fractional", "zero"):
        raise ValueError(
            f"The 'ambiguous' parameter of one_hot must be 'fractional' or 'zero'. Got {ambiguous!r} instead."
        )
    if len(seqs) == 0:
        raise DataError("one_hot got no sequences; give at least one.")
    if ids is not None and len(ids) != len(seqs):
        raise ValueError(f"one_hot got {len(seqs)} sequences but {len(ids)} ids; give one id per sequence.")
    if alphabet == "protein":
        seqs = _strip_stops(seqs, stacklevel=2)
    lengths = np.array([len(s) for s in seqs])
    if length is None:
        _check_length_outliers(lengths, ids)
        length = int(lengths.max())
    elif isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
        raise ValueError(f"The 'length' parameter of one_hot must be an int >= 1. Got {length!r} instead.")
    table, allowed = _lookup_table(alphabet, ambiguous)
    n_bytes = len(seqs) * length * table.shape[1] * 4
    if n_bytes > MAX_ONE_HOT_BYTES:
        from biograd.io.files import size_text

        raise DataError(
            f"One-hot encoding {len(seqs):,} sequences of length {length:,} would take {size_text(n_bytes)}, "
            f"more than the {size_text(MAX_ONE_HOT_BYTES)} allowed. Use shorter sequences (cut them to the "
            "region of interest) or fewer of them (biograd.bio.sequences.MAX_ONE_HOT_BYTES sets the limit)."
        )

    pad = 0  # byte 0 is not a letter: its row of the table is all zeros, which is what padding means
    codes = np.full((len(seqs), length), pad, dtype=np.uint8)
    for i, seq in enumerate(seqs):
        try:
            raw = np.frombuffer(seq.encode("ascii"), dtype=np.uint8)
        except UnicodeEncodeError:
            raw = np.frombuffer(seq.encode("ascii", errors="replace"), dtype=np.uint8)
            raw = np.where(raw == ord("?"), 255, raw).astype(np.uint8)
        bad = ~allowed[raw]
        if bad.any():
            pos = int(np.argmax(bad))
            _raise_unknown_letter(seq, pos, alphabet, ids[i] if ids is not None else f"sequence {i + 1}")
        n = min(len(raw), length)
        codes[i, :n] = raw[:n]
    x = table[codes]  # (N, L, channels)

    n_padded, n_trimmed = int((lengths < length).sum()), int((lengths > length).sum())
    if n_padded or n_trimmed:
        parts = []
        if n_padded:
            parts.append(f"{n_padded} shorter one(s) padded with zeros at the end")
        if n_trimmed:
            parts.append(f"{n_trimmed} longer one(s) trimmed at the end")
        warnings.warn(
            f"{n_padded + n_trimmed} of {len(seqs)} sequences are not {length} long "
            f"(lengths {int(lengths.min())}-{int(lengths.max())}): {' and '.join(parts)}.",
            stacklevel=2,
        )
    return np.ascontiguousarray(x.transpose(0, 2, 1))


#: The largest one-hot array built (float32 samples x letters x length): 2 GiB.
MAX_ONE_HOT_BYTES = 2 * 1024**3
#: A sequence longer than this many times the 90th percentile of the lengths (and than
#: LONG_SEQUENCE_MIN letters) is refused instead of padding every other sequence to its length.
LONG_SEQUENCE_FACTOR = 10
LONG_SEQUENCE_MIN = 1000


def _check_length_outliers(lengths: np.ndarray, ids: Sequence[str] | None) -> None:
    """One 1 MB sequence among 200-letter ones would make every sequence 1 MB of padding (gigabytes of
    zeros): refuse it, naming the records, rather than pad everyone."""
    typical = float(np.percentile(lengths, 90))
    limit = max(LONG_SEQUENCE_FACTOR * typical, LONG_SEQUENCE_MIN)
    far = np.flatnonzero(lengths > limit)
    if far.size == 0:
        return
    names = [ids[i] if ids is not None else f"sequence {i + 1}" for i in far[:3]]
    listed = ", ".join(f"{name!r} ({lengths[i]:,} letters)" for name, i in zip(names, far[:3], strict=True))
    raise DataError(
        f"{far.size} sequence(s) are far longer than the rest (90% have at most {int(typical):,} letters): "
        f"{listed}{' ...' if far.size > 3 else ''}. Padding every sequence to that length would mostly "
        "encode zeros. Remove them or cut them to the region of interest (in Python, "
        "one_hot(..., length=N) and load_fasta(..., length=N) cut every sequence to N letters)."
    )


def _strip_stops(seqs: Sequence[str], stacklevel: int = 2) -> list[str]:
    """The sequences without a final '*' (the stop codon of a translated protein), with a warning
    counting how many had one. A '*' anywhere else is left for the caller to reject."""
    stripped = [str(s).rstrip("*") for s in seqs]
    n_stops = sum(len(a) != len(b) for a, b in zip(stripped, seqs, strict=True))
    if n_stops:
        warnings.warn(
            f"Removed the final '*' (stop codon) from {n_stops} of {len(seqs)} sequences.",
            stacklevel=stacklevel + 1,
        )
    return stripped


def _stop_codon_message(name: str, pos: int, length: int) -> str:
    return (
        f"{name}: '*' (a stop codon) at position {pos + 1} of {length}, inside the sequence. Only a final "
        "'*' is removed; cut the sequence at its first stop codon, or leave this record out."
    )


def _raise_unknown_letter(seq: str, pos: int, alphabet: str, name: str) -> None:
    letter = seq[pos]
    if letter == "*":
        raise DataError(_stop_codon_message(name, pos, len(seq)))
    valid = ALPHABETS[alphabet] + "".join(_ambiguity_codes(alphabet)) + GAPS
    hint = ""
    guess = guess_alphabet([seq])
    if guess != alphabet and guess is not None:
        hint = (
            f" It looks like {guess}: read it as {guess} (alphabet='{guess}' in Python; on the command "
            f"line, use a model trained on {guess} sequences)."
        )
    raise DataError(
        f"{name}: unknown letter {letter!r} at position {pos + 1} for alphabet '{alphabet}' "
        f"(allowed: {valid}, in upper or lower case).{hint}"
    )


def guess_alphabet(seqs: Sequence[str]) -> str | None:
    """ "dna", "rna" or "protein" from the letters used (None if even protein does not fit).

    Nucleotides win when every letter is a nucleotide or an IUPAC code and A, C, G, T/U make up most of
    the sequence (a protein rich in A, C, G, T is unlikely); RNA when it has U and no T.
    """
    letters = set("".join(seqs).upper()) - set(GAPS)
    nucleotide = set("ACGTUN") | set(_NUCLEOTIDE_CODES)
    if letters <= nucleotide:
        text = "".join(seqs).upper()
        core = sum(text.count(b) for b in "ACGTUN")
        if core >= 0.9 * max(len(text), 1):
            if "U" in letters and "T" not in letters:
                return "rna"
            if "U" not in letters:
                return "dna"
    if letters <= set(ALPHABETS["protein"]) | set(_PROTEIN_CODES):
        return "protein"
    return None


# --------------------------------------------------------------------------------------------------
# FASTA
# --------------------------------------------------------------------------------------------------


@dataclass
class FastaRecord:
    """One FASTA record: ``>ID description`` then the sequence (uppercased; soft-masking removed).

    ``label`` is the value of a ``label=...`` field in the description or the ID, if there is one
    (``>p0 label=amp`` or ``>p0|label=amp``); the ID is then ``p0`` either way.
    """

    id: str
    description: str
    sequence: str
    label: str | None = None
    line: int = 0  # line number of the header in the file


_LABEL = re.compile(r"(?:^|[\s|;,])label=([^\s|;,]+)")
_SEQUENCE_CHARS = re.compile(r"[A-Za-z*.\-]*")


def _is_fasta_text(path_or_text: str | PathLike) -> bool:
    """A string with a newline or starting with '>' is FASTA text itself, not a file name."""
    return isinstance(path_or_text, str) and ("\n" in path_or_text or path_or_text.lstrip().startswith(">"))


def _source_name(path_or_text: str | PathLike) -> str:
    """How messages name the input: the file's path, or "the FASTA text"."""
    return "the FASTA text" if _is_fasta_text(path_or_text) else str(path_or_text)


def _read_text(path_or_text: str | PathLike) -> tuple[str, str]:
    """(text, name for messages)."""
    if _is_fasta_text(path_or_text):
        return str(path_or_text), "the FASTA text"
    from biograd.bio.files import read_bytes

    path = Path(path_or_text)
    data = read_bytes(path, kind="FASTA")  # bounded, gunzipped; a damaged .gz is a DataError
    try:
        return data.decode("utf-8-sig"), str(path)
    except UnicodeDecodeError:
        raise DataError(
            f"{str(path)!r} is not a text file (cannot decode it as UTF-8); expected FASTA text."
        ) from None


def read_fasta(path_or_text: str | PathLike) -> list[FastaRecord]:
    """Read a FASTA file (or FASTA text) into records.

    Headers are ``>ID optional description``; a sequence may span several lines. Lowercase
    (soft-masked) letters become uppercase; N, IUPAC codes and gaps (-) are kept as letters
    (``one_hot`` decides what they mean); a final stop (*) of a translated protein is removed, with a
    warning counting them (a * inside a sequence is an error). Blank
    lines and ``;`` comment lines are skipped. A gzipped file (.gz) is read as well.

    Raises:
        FileNotFoundError: no such file.
        DataError: an empty file, text before the first header, a record without a sequence, a
            duplicated ID, or a character that cannot be in a sequence; the message names the file and line.
    """
    text, name = _read_text(path_or_text)
    records: list[FastaRecord] = []
    seen: dict[str, int] = {}
    current: FastaRecord | None = None
    chunks: list[str] = []
    chunk_lines: list[int] = []
    n_stops = 0

    def finish() -> None:
        nonlocal n_stops
        if current is None:
            return
        sequence = "".join(chunks).upper()
        current.sequence = sequence.rstrip("*")  # the stop codon of a translated protein
        n_stops += current.sequence != sequence
        if "*" in current.sequence:
            pos = current.sequence.index("*")
            ends = np.cumsum([len(chunk) for chunk in chunks])  # the sequence's last position on each line
            line_of_stop = chunk_lines[int(np.searchsorted(ends, pos, side="right"))]
            where = f"{name}, line {line_of_stop}: record {current.id!r}"
            raise DataError(_stop_codon_message(where, pos, len(current.sequence)))
        if not current.sequence:
            raise DataError(f"{name}, line {current.line}: record {current.id!r} has no sequence.")
        records.append(current)

    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line or line.startswith(";"):
            continue
        if line.startswith(">"):
            finish()
            header = line[1:].strip()
            if not header:
                raise DataError(f"{name}, line {number}: a '>' header without an ID.")
            record_id, _, description = header.replace("\t", " ").partition(" ")
            description = description.strip()
            match = _LABEL.search(description) or _LABEL.search(record_id)
            record_id = _without_label(record_id)
            if record_id in seen:
                raise DataError(
                    f"{name}, line {number}: the ID {record_id!r} was already used on line "
                    f"{seen[record_id]}; every record needs its own ID."
                )
            seen[record_id] = number
            current = FastaRecord(record_id, description, "", match.group(1) if match else None, number)
            chunks, chunk_lines = [], []
            continue
        if current is None:
            raise DataError(
                f"{name}, line {number}: expected a header line starting with '>' (is this a FASTA file?). "
                f"Got {line[:40]!r}."
            )
        line = "".join(line.split())
        if not _SEQUENCE_CHARS.fullmatch(line):
            bad = next(ch for ch in line if not _SEQUENCE_CHARS.fullmatch(ch))
            raise DataError(
                f"{name}, line {number}: the character {bad!r} cannot be part of a sequence "
                f"(record {current.id!r}, column {line.index(bad) + 1})."
            )
        chunks.append(line)
        chunk_lines.append(number)
    finish()
    if not records:
        raise DataError(f"{name} is empty: no FASTA records (lines starting with '>') found.")
    if n_stops:
        warnings.warn(
            f"{name}: removed the final '*' (stop codon) from {n_stops} of {len(records)} sequences.",
            stacklevel=2,
        )
    return records


def _is_missing(value: object) -> bool:
    """None, NaN, or a blank string: no label."""
    if value is None:
        return True
    if isinstance(value, float):
        return value != value
    return isinstance(value, str) and not value.strip()


def _without_label(record_id: str) -> str:
    """The ID without a ``label=...`` field and its separator: ``p0|label=amp`` -> ``p0``
    (``label=amp|p0`` -> ``p0``; an ID that is nothing but the label stays as it is)."""
    match = _LABEL.search(record_id)
    if match is None:
        return record_id
    rest = (record_id[: match.start()] + record_id[match.end() :]).strip("|;,")
    return rest or record_id


def _unguessable_message(name: str, records: Sequence[FastaRecord]) -> str:
    """Why no alphabet fits: the first letter that is no amino acid (nor U), where it is, what to do."""
    amino_acids = set(ALPHABETS["protein"]) | set(_PROTEIN_CODES) | set(GAPS)
    first_bad = next(
        (
            (record, pos, letter)
            for record in records
            for pos, letter in enumerate(record.sequence)
            if letter not in amino_acids and letter != "U"
        ),
        None,
    )
    if first_bad is not None:
        record, pos, letter = first_bad
        detail = (
            f"letter {letter!r} (record {record.id!r}, position {pos + 1}) is neither a nucleotide nor an "
            "amino acid"
        )
    else:  # only U rules out protein, and the letters are not all nucleotides (or T and U are mixed)
        detail = "the records mix U (RNA) with T (DNA) or with amino-acid letters"
    return (
        f"{name}: cannot tell whether these are DNA, RNA or protein sequences: {detail}. Check those "
        "records (in Python, load_fasta(..., alphabet='dna', 'rna' or 'protein') names the first letter "
        "that does not fit)."
    )


def read_labels(
    path: str | PathLike,
    id_column: str | None = None,
    label_column: str | None = None,
    merge_labels: bool = False,
) -> dict:
    """Labels from a CSV/TSV keyed by record ID: {ID: label}.

    The ID column defaults to the first column, the label column to "label" if there is one, else the
    second column. IDs are text exactly as written (``000`` stays ``000``, ``NA`` is an ID), without
    surrounding spaces. A blank label cell is a missing label (None), never a class called "nan"; labels
    that are all numbers become numbers. Labels that differ only by case or surrounding spaces are warned
    about (merged into their most common spelling with ``merge_labels``).

    Raises DataError for a missing column, a row without an ID, or an ID listed twice.
    """
    import pandas as pd

    from biograd.bio.columns import check_unique_ids
    from biograd.bio.tabular import read_frame
    from biograd.bio.targets import check_label_variants

    frame = read_frame(path, text_only=True)
    where = repr(str(path))
    if frame.shape[1] < 2:
        raise DataError(
            f"{where}: a label file needs an ID column and a label column; found {list(frame.columns)}."
        )
    id_column = id_column or str(frame.columns[0])
    if label_column is None:
        label_column = "label" if "label" in frame.columns else str(frame.columns[1])
    for col in (id_column, label_column):
        if col not in frame.columns:
            raise DataError(
                f"{where}: no column {col!r}; the columns are {', '.join(map(repr, frame.columns))}."
            )
    ids = frame[id_column].fillna("").astype(str).str.strip()
    blank = ids == ""
    if blank.any():
        line = int(np.flatnonzero(blank.to_numpy())[0]) + 2
        raise DataError(f"{where}, line {line}: a row without an ID in column {id_column!r}.")
    check_unique_ids(ids.tolist(), id_column, where)
    labels = frame[label_column].fillna("").astype(str)
    present = labels.str.strip() != ""
    numbers = pd.to_numeric(labels.where(present, None), errors="coerce")
    if present.any() and numbers[present].notna().all():
        values = np.where(present, numbers, np.nan).astype(object)
        values = [v if ok else None for v, ok in zip(values, present, strict=True)]
    else:
        values = [v if ok else None for v, ok in zip(labels.tolist(), present, strict=True)]
        values = list(check_label_variants(values, f"label column {label_column!r}", where, merge_labels))
    return dict(zip(ids.tolist(), values, strict=True))


def _check_one_alphabet(records: Sequence[FastaRecord], guessed: str, name: str) -> None:
    """Protein guessed for the whole file, yet some records are long runs of nucleotides only: the file
    mixes DNA (or RNA) with protein, an error naming records of each kind."""
    if guessed != "protein":
        return
    nucleotide = [
        r for r in records if len(r.sequence) >= 12 and guess_alphabet([r.sequence]) in ("dna", "rna")
    ]
    if not nucleotide:
        return
    protein = [r for r in records if guess_alphabet([r.sequence]) == "protein"]
    kind = guess_alphabet([nucleotide[0].sequence]).upper()
    raise DataError(
        f"{name}: mixes {kind} and protein sequences: {len(nucleotide)} record(s) are nucleotides only "
        f"({', '.join(repr(r.id) for r in nucleotide[:3])}{' ...' if len(nucleotide) > 3 else ''}) and "
        f"{len(protein)} are protein ({', '.join(repr(r.id) for r in protein[:3])}"
        f"{' ...' if len(protein) > 3 else ''}). Put each kind in its own file."
    )


def load_fasta(
    path: str | PathLike,
    labels: str | PathLike | dict | None = None,
    alphabet: str = "auto",
    length: int | None = None,
    task: str = "auto",
    id_column: str | None = None,
    label_column: str | None = None,
    require_labels: bool = True,
    merge_labels: bool = False,
) -> Dataset:
    """Read a FASTA file into a :class:`Dataset` ready for a convolutional network.

    Args:
        path: the FASTA file.
        labels: a CSV/TSV (or dict) mapping record IDs to labels; default: ``label=...`` in the headers.
        alphabet: "dna", "rna", "protein", or "auto" (guessed from the letters).
        length: one-hot length (default: the longest sequence; see :func:`one_hot`). Pass the training
            length when predicting, so the network sees inputs of the shape it was trained on.
        task: "classification", "regression" or "auto" (see :func:`biograd.bio.targets.infer_task`).
        require_labels: if False, records without labels are allowed (y is None): for prediction.
        merge_labels: labels that differ only by case or surrounding spaces are one class (see
            :func:`read_labels`); without it they are warned about.

    Raises DataError for records without a label, a file mixing nucleotide and protein sequences (with
    ``alphabet="auto"``), and everything :func:`read_fasta` and :func:`one_hot` refuse.
    """
    from biograd.bio.targets import check_label_variants, encode_target

    records = read_fasta(path)
    seqs = [r.sequence for r in records]
    ids = [r.id for r in records]
    if alphabet == "auto":
        guessed = guess_alphabet(seqs)
        if guessed is None:
            raise DataError(_unguessable_message(_source_name(path), records))
        _check_one_alphabet(records, guessed, _source_name(path))
        alphabet = guessed
    x = one_hot(seqs, alphabet, length=length, ids=ids)

    if isinstance(labels, dict):
        mapping = {str(k): v for k, v in labels.items() if not _is_missing(v)}
    elif labels is not None:
        mapping = read_labels(labels, id_column, label_column, merge_labels=merge_labels)
    else:
        mapping = {r.id: r.label for r in records if r.label is not None}
    mapping = {k: v for k, v in mapping.items() if v is not None}
    if labels is None or isinstance(labels, dict):
        merged = check_label_variants(list(mapping.values()), "labels", _source_name(path), merge_labels)
        mapping = dict(zip(mapping, merged, strict=True))
    missing = [i for i in ids if i not in mapping]
    y, target_names, task_found = None, [], "classification" if task == "auto" else task
    if missing and (require_labels or len(missing) < len(ids)):
        where = (
            f"in {labels}" if labels is not None and not isinstance(labels, dict) else "('label=' in headers)"
        )
        raise DataError(
            f"{_source_name(path)}: {len(missing)} of {len(ids)} records have no label {where}, e.g. "
            f"{', '.join(missing[:3])}. Give every record a label."
        )
    if not missing:
        y, target_names, task_found = encode_target([mapping[i] for i in ids], task=task, name="label")
    counts = len(records)
    kind_text = "protein" if alphabet == "protein" else alphabet.upper()
    return Dataset(
        x=x,
        y=y,
        feature_names=list(ALPHABETS[alphabet]),
        target_names=target_names,
        description=(
            f"{counts} {kind_text} sequences from {_source_name(path)}, one-hot encoded to length "
            f"{x.shape[2]}."
        ),
        task=task_found,
        kind=alphabet,
        name="FASTA text" if _is_fasta_text(path) else Path(str(path)).name,
        target_name=label_column or "label",
        sequences=seqs,
        ids=ids,
        source="FASTA text" if _is_fasta_text(path) else str(path),
        input_format="fasta",
    )
