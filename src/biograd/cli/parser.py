"""The command line's grammar: every command, its options and its examples (``biograd COMMAND --help``)."""

from __future__ import annotations

import argparse

from biograd._version import __version__
from biograd.cli.console import _err
from biograd.cli.errors import EXIT_BAD_INPUT
from biograd.cli.teach import _datasets, _demo, _playground, _tour
from biograd.cli.train import _train
from biograd.cli.use import _evaluate, _explain, _predict

EPILOG = """\
examples:
  biograd train --dataset breast-cancer --out runs/demo      train, evaluate, explain; open report.html
  biograd train expression.csv --target disease --out runs/expr
  biograd train promoters.fa --labels labels.csv --out runs/promoters
  biograd predict runs/demo new_samples.csv --out predictions.csv
  biograd evaluate runs/demo labelled_samples.csv
  biograd explain runs/demo samples.csv --top 20
  biograd datasets           the datasets that ship with biograd
  biograd demo               the chain rule and gradient descent, step by step, on a tiny example
  biograd tour --out tour    the guided tour: ten steps from a neuron to a DNA motif, in one page
  biograd --version

Run `biograd COMMAND --help` for the options and examples of each command.
"""

TRAIN_EPILOG = """\
examples:
  biograd train --dataset breast-cancer --out runs/demo
  biograd train --dataset motifs --out runs/motifs          (a convolutional network on DNA)
  biograd train expression.csv --target disease --id sample --out runs/expr
  biograd train expression.tsv --target age --task regression --impute median
  biograd train promoters.fa --labels labels.csv --label-column active --out runs/promoters
  biograd train seqs.fa --out runs/seqs                     (labels from "label=..." in the headers)
  biograd train cells.h5ad --target cell_type --layer lognorm --out runs/cells
  biograd train data.csv --target y --hidden 128,64 --dropout 0.2 --epochs 300 --patience 30

Writes into --out: model.safetensors + model.json (the model and its preprocessing), report.html,
metrics.json, history.csv and predictions.csv (the held-out test samples). Ctrl-C stops training,
keeps the best model so far and writes a report marked "interrupted" (exit code 130).
"""

PREDICT_EPILOG = """\
examples:
  biograd predict runs/demo new_samples.csv --out predictions.csv
  biograd predict runs/promoters new.fa --out promoter_predictions.csv

Columns are matched by name, in any order; extra columns are ignored, missing ones are named.
"""

EVALUATE_EPILOG = """\
examples:
  biograd evaluate runs/demo labelled_samples.csv          (needs the target column)
  biograd evaluate runs/promoters more.fa --labels more_labels.csv
"""

EXPLAIN_EPILOG = """\
examples:
  biograd explain runs/demo samples.csv --top 20          (tables: features ranked by importance)
  biograd explain runs/motifs seqs.fa --top 10            (sequences: the most important site of each)
  biograd explain runs/motifs seqs.fa --class motif       (explain every sequence towards one class)
  biograd explain runs/demo samples.csv --per-sample attributions.csv   (one row per sample)

Every sample of the file is explained (above 5,000 table rows or 2,000 sequences, a seeded random
sample of that size, and the output says so).
"""


def _add_matrix_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--orientation",
        choices=["auto", "genes-by-samples", "samples-by-genes"],
        default="auto",
        help="expression matrix with --labels: which way round it is (default: from the sample IDs)",
    )
    p.add_argument(
        "--sample-id-column",
        help="expression matrix with --labels: the sample sheet's column of sample IDs (default: detected)",
    )


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--debug", action="store_true", help="show the full traceback of errors")


def _add_new_data(p: argparse.ArgumentParser) -> None:
    p.add_argument("model_dir", metavar="MODEL_DIR", help="the directory written by biograd train --out")
    p.add_argument("data", metavar="DATA", help="CSV/TSV, FASTA or .h5ad file, like the training data")
    p.add_argument(
        "--labels",
        help="FASTA: CSV of labels keyed by record ID; expression matrix: its sample sheet",
    )
    p.add_argument("--label-column", help="FASTA only: the label column of --labels")
    p.add_argument("--id", help="tables: the column of sample names (default: the one used in training)")
    _add_matrix_options(p)
    _add_common(p)


class _Parser(argparse.ArgumentParser):
    """argparse, but a wrong option value gives one ``error:`` line and where to find the usage, not the
    whole usage block (sub-commands get this class too)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        _err(f"error: {self.prog}: {message}")
        _err(f"hint: run `{self.prog} --help` for the options and examples.")
        self.exit(EXIT_BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog="biograd",
        description="Deep learning from first principles, for biologists: train, evaluate and explain "
        "networks on tables, sequences and single-cell data.",
        epilog=EPILOG,
        formatter_class=fmt,
    )
    parser.add_argument("--version", action="version", version=f"biograd {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser(
        "train",
        help="train a network on your data, compare it with baselines, write a report",
        description="Train a network (an MLP for tables, a small CNN for sequences), evaluate it on held-out "
        "samples against classical baselines, explain it, and write a report.",
        epilog=TRAIN_EPILOG,
        formatter_class=fmt,
    )
    t.add_argument("data", nargs="?", metavar="DATA", help="a .csv/.tsv table, .fa/.fasta file or .h5ad file")
    t.add_argument("--target", help="the column to predict (tables) or obs column (.h5ad)")
    t.add_argument("--dataset", help="a bundled dataset instead of DATA (see: biograd datasets)")
    t.add_argument(
        "--task",
        default="auto",
        choices=["auto", "classification", "regression"],
        help="default: auto (text or few whole numbers -> classification)",
    )
    t.add_argument(
        "--hidden",
        default=None,
        help="hidden layer sizes, e.g. 64,32 (default: 32 for tables; 32 filters for sequences)",
    )
    t.add_argument("--activation", default="relu", help="relu (default), leaky_relu, tanh, sigmoid, gelu")
    t.add_argument("--epochs", type=int, default=200, help="at most this many epochs (default 200)")
    t.add_argument("--batch-size", type=int, default=32, help="samples per gradient step (default 32)")
    t.add_argument(
        "--lr", type=float, default=None, help="learning rate (default 0.001 for tables, 0.003 for sequences)"
    )
    t.add_argument(
        "--optimizer",
        default=None,
        help="adamw (default for tables), adam (default for sequences), sgd, rmsprop",
    )
    t.add_argument(
        "--dropout",
        type=float,
        default=None,
        help="dropout probability (default 0.3 for tables, 0 for sequences)",
    )
    t.add_argument(
        "--weight-decay",
        type=float,
        default=None,
        help="weight decay (default 0.1 with adamw for tables, else 0)",
    )
    t.add_argument(
        "--patience",
        type=int,
        default=20,
        help="stop after this many epochs without a better validation loss (default 20)",
    )
    t.add_argument("--val-fraction", type=float, default=0.2, help="validation share (default 0.2)")
    t.add_argument(
        "--test-fraction",
        type=float,
        help="test on one held-out share of the samples instead of cross-validating (e.g. 0.2); "
        "implies --evaluation holdout",
    )
    t.add_argument("--seed", type=int, default=0, help="random seed: split, weights, shuffling (default 0)")
    t.add_argument("--impute", choices=["mean", "median"], help="fill missing feature values (tables)")
    t.add_argument("--id", help="tables: the column of sample names (default: detected)")
    t.add_argument(
        "--labels",
        help="FASTA: a CSV of labels keyed by record ID (default: label= in headers); expression matrix: "
        "the sample sheet (one row per sample, with the --target column)",
    )
    t.add_argument("--label-column", help="FASTA: the label column of --labels (default: label or 2nd)")
    t.add_argument("--layer", help=".h5ad: read this layer instead of X ('raw' reads .raw)")
    _add_matrix_options(t)
    t.add_argument(
        "--groups",
        metavar="COLUMN",
        help="tables: a column of groups (patient, donor, family); a group never straddles training and test",
    )
    t.add_argument(
        "--positive",
        metavar="CLASS",
        help="two classes: the class called positive (ROC, PR, attributions); default: a guess from the "
        "names (the one not named as an absence, else the alphabetically second)",
    )
    t.add_argument(
        "--keep-conflicting",
        action="store_true",
        help="keep identical samples whose labels disagree (default: leave them out, with a warning)",
    )
    t.add_argument(
        "--kernel-size",
        type=int,
        default=None,
        help="sequences: filter width in letters (default 12 for DNA/RNA, 9 for protein)",
    )
    t.add_argument(
        "--test-data",
        metavar="FILE",
        help="an external test cohort (same columns and target): evaluated once with the saved model, "
        "reported beside the cross-validated figures; it never influences training or any choice",
    )
    t.add_argument(
        "--evaluation",
        choices=["auto", "cross-validation", "holdout"],
        default="auto",
        help="how to test: auto (cross-validation up to 5,000 samples, else one held-out split)",
    )
    t.add_argument("--out", default="runs/biograd", help="output directory (default runs/biograd)")
    t.add_argument(
        "--merge-labels",
        action="store_true",
        help="class labels that differ only by case or spaces (' yes', 'Yes') are one class",
    )
    t.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a previous run in --out (without it, a complete run there is an error)",
    )
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_common(t)
    t.set_defaults(run=_train)

    p = sub.add_parser(
        "predict", help="predict new samples with a trained model", epilog=PREDICT_EPILOG, formatter_class=fmt
    )
    _add_new_data(p)
    p.add_argument("--out", default="predictions.csv", help="where to write (default predictions.csv)")
    p.set_defaults(run=_predict)

    e = sub.add_parser(
        "evaluate", help="test a trained model on labelled data", epilog=EVALUATE_EPILOG, formatter_class=fmt
    )
    _add_new_data(e)
    e.set_defaults(run=_evaluate)

    x = sub.add_parser(
        "explain",
        help="which inputs drove a trained model's predictions",
        epilog=EXPLAIN_EPILOG,
        formatter_class=fmt,
    )
    _add_new_data(x)
    x.add_argument(
        "--top", type=int, default=20, help="how many features / sequences per class to show (default 20)"
    )
    x.add_argument(
        "--class",
        dest="explain_class",
        metavar="NAME",
        help="explain every sample towards this class (default: two classes, the positive one for tables "
        "and each sequence's predicted class; more classes, each sample's predicted class)",
    )
    x.add_argument("--out", default=None, help="also write the table to this CSV file")
    x.add_argument(
        "--per-sample",
        metavar="FILE.csv",
        default=None,
        help="also write every sample's attributions: one row per sample, one column per feature "
        "(tables) or per position (sequences)",
    )
    x.set_defaults(run=_explain)

    d = sub.add_parser(
        "datasets",
        help="list the datasets that ship with biograd",
        epilog="example:\n  biograd datasets\n  biograd train --dataset motifs --out runs/motifs",
        formatter_class=fmt,
    )
    d.set_defaults(run=_datasets)

    demo = sub.add_parser(
        "demo",
        help="the chain rule and gradient descent on a tiny example",
        epilog="example:\n  biograd demo --steps 30",
        formatter_class=fmt,
    )
    demo.add_argument("--steps", type=int, default=60, help="gradient-descent steps (default 60)")
    demo.set_defaults(run=_demo)

    tr = sub.add_parser(
        "tour",
        help="the guided tour of deep learning: every figure and a short explanation in one HTML page",
        description="Run a compact version of the ten tutorials in docs/tutorials (a neuron, activations, "
        "layers, losses, backpropagation, gradient descent, optimizers, overfitting, a DNA motif) and write "
        "one self-contained page, DIR/index.html, that opens in any browser without Jupyter.",
        epilog="example:\n  biograd tour --out tour        then open tour/index.html",
        formatter_class=fmt,
    )
    tr.add_argument("--out", default="tour", help="output directory (default tour)")
    tr.add_argument("--seed", type=int, default=0, help="random seed: splits, weights, shuffling (default 0)")
    _add_common(tr)
    tr.set_defaults(run=_tour)

    pg = sub.add_parser(
        "playground",
        help="watch a network learn, live, in your browser (a local web page)",
        description="Start a local web page (127.0.0.1 only, behind a random token) where a small network "
        "trains live on cell populations, a dose-response surface or your own CSV; click any neuron or "
        "weight for its numbers, export a script, a PyTorch twin, the model or an HTML replay.",
        epilog="example:\n  biograd playground            then open the printed address",
        formatter_class=fmt,
    )
    pg.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    pg.add_argument("--no-browser", action="store_true", help="print the address; do not open a browser")
    _add_common(pg)
    pg.set_defaults(run=_playground)
    return parser
