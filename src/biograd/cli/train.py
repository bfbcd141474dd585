"""``biograd train``: read the data, test the network the way its size calls for, write the run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from biograd.cli.console import _err, _out, _table
from biograd.cli.errors import EXIT_INTERRUPTED


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
