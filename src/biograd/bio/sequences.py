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
        length: the length of the output. Default: the longest sequence. Shorter sequences are padded
            with all-zero columns at the end, longer ones trimmed at the end; a warning says how many.
        ids: names used in error messages (FASTA record IDs); default "sequence 1", "sequence 2", ...
        ambiguous: how IUPAC ambiguity codes are encoded. "fractional" (default) spreads 1 over the
            letters a code stands for (DNA: N = 0.25 each of A, C, G, T; R = A or G = 0.5 each; protein:
            X = 1/20 each, B = D/N, Z = E/Q, J = I/L); "zero" makes them all-zero columns, like padding.
            Gaps ("-" or ".") are always all-zero columns.

    Raises:
        DataError: a letter that is not in the alphabet, naming the sequence and the position.
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
        length = int(lengths.max())
    elif isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
        raise ValueError(f"The 'length' parameter of one_hot must be an int >= 1. Got {length!r} instead.")
    table, allowed = _lookup_table(alphabet, ambiguous)

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
    path = Path(path_or_text)
    if not path.exists():
        raise FileNotFoundError(f"FASTA file {str(path)!r} not found. Check the path.")
    if path.is_dir():
        raise DataError(f"{str(path)!r} is a folder, not a FASTA file.")
    data = path.read_bytes()
    if path.suffix == ".gz" or data[:2] == b"\x1f\x8b":
        import gzip

        data = gzip.decompress(data)
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


def read_labels(path: str | PathLike, id_column: str | None = None, label_column: str | None = None) -> dict:
    """Labels from a CSV/TSV keyed by record ID: {ID: label}.

    The ID column defaults to the first column, the label column to "label" if there is one, else the
    second column.
    """
    from biograd.bio.tabular import read_frame

    frame = read_frame(path)
    if frame.shape[1] < 2:
        raise DataError(
            f"{path}: a label file needs an ID column and a label column; found {list(frame.columns)}."
        )
    id_column = id_column or str(frame.columns[0])
    if label_column is None:
        label_column = "label" if "label" in frame.columns else str(frame.columns[1])
    for col in (id_column, label_column):
        if col not in frame.columns:
            raise DataError(
                f"{path}: no column {col!r}; the columns are {', '.join(map(str, frame.columns))}."
            )
    ids = frame[id_column].astype(str)
    duplicated = ids[ids.duplicated()].unique()
    if len(duplicated):
        raise DataError(f"{path}: IDs listed twice in column {id_column!r}: {', '.join(duplicated[:5])}.")
    return dict(zip(ids, frame[label_column], strict=True))


def load_fasta(
    path: str | PathLike,
    labels: str | PathLike | dict | None = None,
    alphabet: str = "auto",
    length: int | None = None,
    task: str = "auto",
    id_column: str | None = None,
    label_column: str | None = None,
    require_labels: bool = True,
) -> Dataset:
    """Read a FASTA file into a :class:`Dataset` ready for a convolutional network.

    Args:
        path: the FASTA file.
        labels: a CSV/TSV (or dict) mapping record IDs to labels; default: ``label=...`` in the headers.
        alphabet: "dna", "rna", "protein", or "auto" (guessed from the letters).
        length: one-hot length (default: the longest sequence; see :func:`one_hot`). Pass the training
            length when predicting, so the network sees inputs of the shape it was trained on.
        task: "classification", "regression" or "auto" (see :func:`biograd.bio.tabular.infer_task`).
        require_labels: if False, records without labels are allowed (y is None): for prediction.
    """
    from biograd.bio.tabular import encode_target

    records = read_fasta(path)
    seqs = [r.sequence for r in records]
    ids = [r.id for r in records]
    if alphabet == "auto":
        guessed = guess_alphabet(seqs)
        if guessed is None:
            raise DataError(_unguessable_message(_source_name(path), records))
        alphabet = guessed
    x = one_hot(seqs, alphabet, length=length, ids=ids)

    if isinstance(labels, dict):
        mapping = {str(k): v for k, v in labels.items()}
    elif labels is not None:
        mapping = read_labels(labels, id_column, label_column)
    else:
        mapping = {r.id: r.label for r in records if r.label is not None}
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
