"""The ``biograd`` command line: the only place in biograd that prints or exits."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Any

import biograd

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

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def _demo(args: argparse.Namespace) -> int:
    """The notes' chain-rule example, traced; then one neuron fitted by gradient descent."""
    import numpy as np

    print("1. The chain rule, as backpropagation computes it: y = sin(x^2) at x = 1.5\n")
    x = biograd.tensor(1.5, requires_grad=True, name="x")
    u = x**2
    u.name = "u"
    y = u.sin()
    y.name = "y"
    with biograd.trace() as steps:
        y.backward()
    print(steps)
    print(f"\n   closed form 2x cos(x^2) = {2 * 1.5 * np.cos(1.5**2):.6f}\n")

    print("2. One neuron, y = w*x + b, fitted by gradient descent to points on the line y = 3x - 1\n")
    xs = biograd.tensor(np.linspace(-1, 1, 20).reshape(-1, 1))
    ys = xs * 3.0 - 1.0
    w = biograd.tensor([[0.0]], requires_grad=True, name="w")
    b = biograd.tensor([0.0], requires_grad=True, name="b")
    lr = 0.5
    for step in range(args.steps):
        loss = ((xs @ w + b - ys) ** 2).mean()
        w.grad = b.grad = None
        loss.backward()
        if step % max(1, args.steps // 8) == 0 or step == args.steps - 1:
            print(f"   step {step:3d}  loss {loss.item():.6f}  w {w.item():+.4f}  b {b.item():+.4f}")
        w.data -= lr * w.grad  # w <- w - lr * dL/dw
        b.data -= lr * b.grad
    print(f"\n   learned w = {w.item():.4f} (true 3), b = {b.item():.4f} (true -1)")
    return 0


def _out(text: str = "") -> None:
    """One line to stdout, flushed; a reader that stopped reading (``| head``) silences the rest of the
    output rather than the command (a run still writes its files)."""
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()


def _silence_stdout() -> None:
    """Point stdout at the null device: the reader of the pipe is gone, and Python would otherwise fail
    again when it flushes stdout at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout without a file descriptor (tests, notebooks)
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives until exit


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    _err(f"warning: {message}")


def _table(rows: list[list[Any]], header: list[str] | None = None) -> str:
    """Plain-text table, columns padded; numbers right-aligned."""
    cells = [[_cell(c) for c in row] for row in ([header] if header else []) + rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    originals = [header, *rows] if header else rows
    lines = []
    for n, row in enumerate(cells):
        parts = []
        for i, c in enumerate(row):
            raw = (header is None or n > 0) and isinstance(originals[n][i], (int, float))
            parts.append(c.rjust(widths[i]) if raw else c.ljust(widths[i]))
        lines.append("  " + "  ".join(parts).rstrip())
        if header and n == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)


# --------------------------------------------------------------------------------------------------
# biograd train
# --------------------------------------------------------------------------------------------------


def _config(args: argparse.Namespace) -> Any:
    from biograd.bio.errors import DataError
    from biograd.pipeline import TrainConfig, parse_hidden

    evaluation, test_fraction = args.evaluation, args.test_fraction
    if test_fraction is not None and evaluation == "cross-validation":
        raise DataError(
            f"--test-fraction {test_fraction:g} sets aside one held-out test set, but --evaluation "
            "cross-validation tests every sample out of fold. Drop --test-fraction, or use --evaluation "
            "holdout."
        )
    if test_fraction is not None and evaluation == "auto":
        evaluation = "holdout"  # the user asked for a held-out share: honour it (the console says so)
    return TrainConfig(
        task=args.task,
        hidden=parse_hidden(args.hidden),
        activation=args.activation,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        optimizer=args.optimizer,
        dropout=args.dropout,
        weight_decay=args.weight_decay,
        patience=args.patience,
        val_fraction=args.val_fraction,
        test_fraction=0.2 if test_fraction is None else test_fraction,
        seed=args.seed,
        impute=args.impute,
        kernel_size=args.kernel_size,
        evaluation=evaluation,
    ).check()


def _train(args: argparse.Namespace) -> int:
    from biograd import pipeline

    config = _config(args)  # bad settings fail before any data is read
    if args.data is None and args.dataset is None:
        raise pipeline.ConfigError("Give a data file (biograd train DATA --target COLUMN) or --dataset NAME.")
    if args.data is not None and args.dataset is not None:
        raise pipeline.ConfigError("Give a data file or --dataset NAME, not both.")
    pipeline.check_out_dir(args.out, overwrite=args.overwrite)  # a bad --out fails now, not after training
    if args.test_data is not None and not Path(args.test_data).is_file():
        from biograd.bio.errors import DataError

        raise DataError(f"--test-data {args.test_data!r} is not a file. Check the path.")
    data = pipeline.load_data(
        args.data,
        args.target,
        dataset=args.dataset,
        task=args.task,
        id_column=args.id,
        labels=args.labels,
        label_column=args.label_column,
        layer=args.layer,
        impute=args.impute,
        groups=args.groups,
        keep_conflicting=args.keep_conflicting,
        orientation=args.orientation,
        sample_id_column=args.sample_id_column,
        positive=args.positive,
        merge_labels=args.merge_labels,
    )
    prepared = pipeline.prepare(data, config)
    counts = data.class_counts()
    classes = (
        ", ".join(f"{name} {n}" for name, n in counts.items()) if counts else f"target {data.target_name!r}"
    )
    what = (
        f"{data.x.shape[2]}-letter {data.kind.upper()} sequences"
        if data.is_sequence
        else f"{len(prepared.feature_names)} features"
    )
    _out(f"Data:    {data.name}: {data.n_samples} samples, {what}; {data.task} ({classes})")
    if prepared.folds:
        _out(f"Testing: {prepared.scheme.describe()} ({len(prepared.folds)} networks, one per fold)")
        if prepared.selected_features:
            _out(
                f"         each fold keeps the {prepared.selected_features} features that best "
                f"{'separate the classes' if data.task == 'classification' else 'track the target'} "
                "on its training rows"
            )
    else:
        _out(
            f"Split:   {len(prepared.train_idx)} training / {len(prepared.val_idx)} validation / "
            f"{len(prepared.test_idx)} test samples"
            + (" (stratified by class)" if data.task == "classification" else "")
            + "; the test samples are not used until the end"
            + (" (--test-fraction asked for one held-out test set)" if args.test_fraction is not None else "")
        )
    if data.grouping:
        _out(f"Groups:  {data.grouping}")
    _out(f"Network: {prepared.architecture}, {prepared.n_parameters:,} parameters")
    _out(f"         chosen for {'sequences' if data.is_sequence else 'a table'}: {prepared.why}")
    _out(
        f"Training for up to {config.epochs} epochs "
        f"(early stopping after {config.patience} without improvement)..."
    )
    result = pipeline.train(
        prepared,
        progress=not args.quiet,
        progress_stream=sys.stderr,
        command=pipeline.command_line(args.argv),
    )
    for message in result.warnings:
        _err(f"warning: {message}")
    if args.test_data is not None:
        from biograd.pipeline.prepare import training_profile

        info = {
            "preprocessing": prepared.preprocessing,
            "feature_names": prepared.feature_names,
            "training_profile": training_profile(prepared),  # the shift check of the cohort
        }
        new = pipeline.read_new_data(
            info,
            args.test_data,
            model=result.model,
            labels=args.labels,
            label_column=args.label_column,
            need_target=True,
            id_column=args.id,
            orientation=args.orientation,
            sample_id_column=args.sample_id_column,
        )
        pipeline.evaluate_external(result, new.x, new.y, str(args.test_data))
    out = pipeline.write_run(result, args.out, overwrite=args.overwrite)
    _summary(result, out)
    if result.interrupted:
        _err("Interrupted: the best model so far and a report marked 'interrupted' were saved in " + str(out))
        if out.name.endswith(".interrupted"):
            _err(f"The complete run already in {args.out} was left as it was.")
        return EXIT_INTERRUPTED
    return 0


def _summary(result: Any, out: Path) -> None:
    task = result.prepared.data.task
    keys = (
        [
            ("accuracy", "accuracy"),
            ("balanced_accuracy", "balanced acc."),
            ("roc_auc", "ROC AUC"),
            ("pr_auc", "PR AUC"),
        ]
        if task == "classification"
        else [("r2", "R^2"), ("mae", "MAE"), ("rmse", "RMSE")]
    )
    from biograd.stats import format_interval

    def with_ci(metrics: dict[str, Any], ci: dict[str, Any]) -> list[str]:
        return [format_interval(metrics.get(k), ci.get(k)) for k, _ in keys]

    rows = [["network (biograd)", *with_ci(result.test_metrics, result.test_ci)]]
    for name, values in result.baselines.items():
        rows.append([name, *[values.get(k) for k, _ in keys]])
    h = result.history
    _out("")
    samples = result.evaluation.get("samples", len(result.prepared.test_idx))
    if result.prepared.folds:
        _out(f"Evaluation: {result.scheme_text}.")
        _out(f"Test figures on the out-of-fold predictions of {samples} samples, with 95% intervals:")
    else:
        _out(f"Test set ({samples} samples never used in training), with 95% intervals:")
    _out(_table(rows, ["model", *[label for _, label in keys]]))
    if result.small_sample:
        _out(f"Note: {result.small_sample}")
    ext = result.external_test
    if ext is not None:
        _out("")
        _out(
            f"External test set {ext['source']} ({ext['samples']} samples; never used for training or any "
            "choice), with 95% intervals:"
        )
        _out(
            _table(
                [["network (biograd)", *with_ci(ext["metrics"], ext["ci"])]],
                ["model", *[lb for _, lb in keys]],
            )
        )
        if ext["small_sample_warning"]:
            _out(f"Note: {ext['small_sample_warning']}")
    _out("")
    _out(result.comparison["sentence"])
    fold_note = f" (fold 1 of {len(result.fold_histories)})" if result.fold_histories else ""
    _out(
        f"Training{fold_note}: {h.epochs_run} epochs, stop reason {h.stop_reason}, "
        f"best epoch {h.best_epoch}. "
        f"Diagnosis: {result.diagnosis.verdict}. {result.diagnosis.advice}".rstrip()
    )
    found = result.importance
    if found is not None and found.kind == "table":
        top = ", ".join(found.findings(5))
        _out(f"Most important features: {top}" if top else "Most important features: none stable")
        shaky = [f for f in found.ranking["feature"].head(5).astype(str) if found.is_unstable(f)]
        if shaky:
            _out(f"Ranked high but unstable across the committee (not findings): {', '.join(shaky)}")
    elif found is not None:
        for group in found.groups:
            if group.n:
                name = "" if group.class_name is None else f" of sequences predicted as {group.class_name!r}"
                _out(f"Most important sites{name}: {', '.join(s['site'] for s in group.sites[:3])}")
    _out(
        f"Written to {out}/: report.html (open it in a browser), model.safetensors + model.json, "
        "metrics.json, history.csv, predictions.csv"
    )


# --------------------------------------------------------------------------------------------------
# biograd predict / evaluate / explain / datasets
# --------------------------------------------------------------------------------------------------


def _load_for(args: argparse.Namespace, need_target: bool) -> tuple[Any, dict, Any]:
    from biograd import pipeline

    model, info = pipeline.load_run(args.model_dir)
    new = pipeline.read_new_data(
        info,
        args.data,
        model=model,
        labels=args.labels,
        label_column=args.label_column,
        need_target=need_target,
        id_column=getattr(args, "id", None),
        orientation=args.orientation,
        sample_id_column=args.sample_id_column,
    )
    return model, info, new


def _predict(args: argparse.Namespace) -> int:
    from biograd import pipeline

    model, info, new = _load_for(args, need_target=False)
    table = pipeline.predict_table(model, info, new)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    table.to_csv(tmp, index=False)
    tmp.replace(out)
    _out(f"Predicted {len(table)} samples -> {out}")
    if "uncertain" in table.columns:
        _out(
            f"The model is a committee of networks: {int(table['uncertain'].sum())} sample(s) marked "
            "uncertain (its members disagree; spread = their standard deviation)"
        )
    _out(table.head(10).to_string(index=False))
    if len(table) > 10:
        _out(f"... ({len(table) - 10} more rows in {out})")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from biograd import pipeline

    model, info, new = _load_for(args, need_target=True)
    metrics = pipeline.evaluate_new(model, info, new)
    _out(f"{len(new.ids)} samples from {args.data}:")
    rows = [[k, v] for k, v in metrics.items() if k not in ("confusion_matrix", "new_data_shift")]
    _out(_table(rows, ["metric", "value"]))
    if "uncertain_samples" in metrics:
        _out(
            f"({metrics['uncertain_samples']} of {len(new.ids)} samples are uncertain: the committee's "
            "members disagree on them; biograd predict marks which)"
        )
    if "confusion_matrix" in metrics:
        names = [str(c) for c in info["preprocessing"]["class_names"]]
        _out("")
        _out("Confusion matrix (rows: true class, columns: predicted class):")
        cm = metrics["confusion_matrix"]
        _out(_table([[name, *row] for name, row in zip(names, cm, strict=True)], ["", *names]))
    return 0


def _explain(args: argparse.Namespace) -> int:
    from biograd import pipeline

    if args.top < 1:
        raise pipeline.ConfigError(f"The 'top' parameter must be an int >= 1. Got {args.top} instead.")
    model, info, new = _load_for(args, need_target=False)
    found = pipeline.explain_new(model, info, new, top=args.top, explain_class=args.explain_class)
    if found.kind == "table":
        _explain_table_text(found)
    else:
        _explain_sequences_text(found)
    if args.out:
        found.table().to_csv(args.out, index=False)
        _out(f"Written to {args.out}")
    if args.per_sample:
        found.per_sample.to_csv(args.per_sample, index=False)
        what = "feature" if found.kind == "table" else "position"
        _out(f"Per-sample attributions (one row per sample, one column per {what}) -> {args.per_sample}")
    return 0


def _explain_table_text(found: Any) -> None:
    from biograd.explain.predictions import STABILITY_TOP, UNSTABLE_BELOW, UNSTABLE_TEXT

    table = found.table()
    per_class = found.direction_columns
    towards = found.towards
    used = found.used()
    if per_class:
        _out(f"Features ranked by mean |integrated gradients| of each sample's predicted class, over {used}:")
    elif towards is not None:
        _out(f"Features ranked by mean |integrated gradients| towards {towards!r}, over {used}:")
    else:
        _out(f"Features ranked by mean |integrated gradients| of the predicted value, over {used}:")
    directions = per_class or ["direction"]
    labels = [f"-> {c[len('direction_') :]}" for c in per_class] or ["direction"]
    committee = "stability" in table.columns
    if committee:
        _out(
            f"(a committee of {found.members} networks: each member explained, attributions averaged; "
            f"stability = share of members ranking the feature in their top {STABILITY_TOP}; below "
            f"{UNSTABLE_BELOW} the members disagree and the feature is {UNSTABLE_TEXT!r})"
        )
    rows = [
        [
            int(r["rank"]),
            str(r["feature"]),
            float(r["mean_abs_attribution"]),
            *[float(r[d]) for d in directions],
            *(
                [float(r["stability"]), UNSTABLE_TEXT if found.is_unstable(r["feature"]) else ""]
                if committee
                else []
            ),
        ]
        for _, r in table.iterrows()
    ]
    _out(
        _table(rows, ["rank", "feature", "mean |attr.|", *labels, *(["stability", ""] if committee else [])])
    )
    if per_class:
        _out(
            "(-> CLASS: correlation, over all samples, between the feature's value and its attribution to "
            "CLASS's logit: > 0 higher values raise that class's score, < 0 lower it; "
            "--class NAME explains every sample towards one class)"
        )
    elif towards is not None:
        _out(
            f"(direction > 0: higher values of the feature push towards {towards!r}; < 0: away from it. "
            "--class NAME explains towards another class)"
        )
    else:
        _out("(direction > 0: higher values of the feature raise the predicted value; < 0: they lower it)")


def _explain_sequences_text(found: Any) -> None:
    window = found.window
    _out(f"Integrated gradients over {found.used()}; each sequence's most important {window}-letter site.")
    if found.members > 1:
        _out(f"(a committee of {found.members} networks: each member explained, attributions averaged)")
    for group in found.groups:
        name = group.class_name
        shown = group.shown
        _out("")
        if name is None:
            _out(f"The {len(shown)} sequences with the highest predicted value:")
        elif not group.n:
            _out(f"No sequence is predicted as {name!r}.")
            continue
        else:
            _out(
                f"Explained towards {name!r}: {group.n} sequence(s); the {len(shown)} most confident "
                f"(attribution > 0 pushes towards {name!r}):"
            )
        header = ["sequence", *(["P(" + str(name) + ")"] if name is not None else []), "score", "positions"]
        rows = [
            [
                str(s["id"]),
                *([float(s["probability"])] if name is not None else []),
                float(s["score"]),
                f"{s['start']}-{s['end']}",
                str(s["site"]),
                float(s["site_attribution"]),
            ]
            for s in shown
        ]
        _out(_table(rows, [*header, "site", "attribution"]))
        common = group.common_sites()
        if common:
            _out("Most frequent sites (a candidate motif): " + ", ".join(f"{k} ({n}x)" for k, n in common))
        damage = group.most_damaging()
        if damage is not None:
            pos, drop = damage
            what = f"the score of {name!r}" if name is not None else "the predicted value"
            _out(
                f"In-silico mutagenesis of {group.top_ids[0]}: the most damaging single substitution "
                f"(at position {pos}) lowers {what} by {drop:.3f}."
            )


def _datasets(args: argparse.Namespace) -> int:
    from biograd import datasets

    rows = [[name, n, task, desc] for name, desc, n, task in datasets.available()]
    _out(_table(rows, ["name", "samples", "task", "description"]))
    _out("\nTrain on one: biograd train --dataset NAME --out runs/NAME")
    return 0


def _tour(args: argparse.Namespace) -> int:
    from biograd import tour

    out = Path(args.out)
    _out(f"The guided tour: ten steps, computed now (under a minute). Writing {out / 'index.html'}")

    def progress(number: int, title: str) -> None:
        _out(f"  {number:2d}/10  {title}")
        sys.stdout.flush()

    page = tour.write(out, seed=args.seed, on_step=progress)
    _out(f"Written to {page}: open it in a browser. The notebooks behind it are in docs/tutorials.")
    return 0


def _playground(args: argparse.Namespace) -> int:
    from biograd.playground.server import serve

    def ready(url: str) -> None:
        _out(f"biograd playground: {url}")
        _out("Open that address (with its token) in a browser. Press Ctrl-C to stop.")
        sys.stdout.flush()

    serve(port=args.port, open_browser=not args.no_browser, ready=ready)
    _out("Playground stopped.")
    return 0


# --------------------------------------------------------------------------------------------------
# The parser
# --------------------------------------------------------------------------------------------------


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
    parser.add_argument("--version", action="version", version=f"biograd {biograd.__version__}")
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


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "your input is wrong" (exit code 2, a message, no traceback)."""
    from biograd.bio.errors import DataError
    from biograd.io import ModelFileError

    return (
        DataError,
        ModelFileError,
        FileNotFoundError,
        PermissionError,
        IsADirectoryError,
        ValueError,
        ImportError,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 2 bad input, 130 interrupted)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version, or argparse's own usage errors (code 2)
        return int(stop.code or 0) if not isinstance(stop.code, str) else EXIT_BAD_INPUT
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    args.argv = list(sys.argv[1:] if argv is None else argv)
    debug = getattr(args, "debug", False)
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = _show_warning
        try:
            return args.run(args)
        except BrokenPipeError:  # the reader of our output (| head) stopped reading: not an error
            _silence_stdout()
            return 0
        except KeyboardInterrupt:
            if debug:
                raise
            _err("Interrupted; nothing was written.")
            return EXIT_INTERRUPTED
        except _user_errors() as err:
            if debug:
                raise
            _err(f"error: {_one_message(err)}")
            return EXIT_BAD_INPUT
        except Exception as err:
            if debug:
                raise
            _err(f"error: unexpected {type(err).__name__}: {err}")
            _err("This looks like a bug in biograd; run again with --debug for the traceback and report it.")
            return 1


def _one_message(err: BaseException) -> str:
    text = str(err).strip()
    if isinstance(err, KeyError) and err.args and isinstance(err.args[0], str):
        text = err.args[0].strip()  # str(KeyError) adds quotes around the message; a message's own stay
    return _flag_names(text) or type(err).__name__


#: Settings whose Python names a message may use, and the flags a command-line user typed instead.
_FLAGS = {
    name: "--" + name.replace("_", "-")
    for name in (
        "test_fraction",
        "val_fraction",
        "batch_size",
        "weight_decay",
        "kernel_size",
        "label_column",
        "sample_id_column",
        "keep_conflicting",
    )
}


def _flag_names(text: str) -> str:
    """A library message in command-line words: "The 'test_fraction' parameter" becomes "--test-fraction",
    "val_fraction + test_fraction" becomes "--val-fraction + --test-fraction"."""
    text = re.sub(r"The '(\w+)' parameter", lambda m: "--" + m.group(1).replace("_", "-"), text)
    for name, flag in _FLAGS.items():
        text = re.sub(rf"(?<![\w-]){name}\b", flag, text)
    return text


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
