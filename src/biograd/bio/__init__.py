"""Biology-facing data: sequences (FASTA, one-hot), tables (CSV/TSV and their preprocessing) and
single-cell files (.h5ad). pandas and anndata are imported only when a function needs them."""

from biograd.bio.columns import detect_id_column
from biograd.bio.dataset import Dataset
from biograd.bio.errors import DataError
from biograd.bio.preprocess import Preprocessor
from biograd.bio.sequences import (
    ALPHABETS,
    FastaRecord,
    guess_alphabet,
    load_fasta,
    one_hot,
    read_fasta,
    read_labels,
)
from biograd.bio.singlecell import looks_like_raw_counts, read_h5ad
from biograd.bio.tabular import Table, load_table, read_frame
from biograd.bio.targets import encode_target, infer_task

__all__ = [
    "ALPHABETS",
    "DataError",
    "Dataset",
    "FastaRecord",
    "Preprocessor",
    "Table",
    "detect_id_column",
    "encode_target",
    "guess_alphabet",
    "infer_task",
    "load_fasta",
    "load_table",
    "looks_like_raw_counts",
    "one_hot",
    "read_fasta",
    "read_frame",
    "read_h5ad",
    "read_labels",
]
