"""The main job as a library: read the data, split it, train a network, compare it with classical
baselines, explain it, and write everything a biologist needs into one directory.

``biograd train`` is a thin shell around these functions, so the same run works from Python::

    from biograd import pipeline
    data = pipeline.load_data(dataset="breast-cancer")            # or path="cells.csv", target="type"
    prepared = pipeline.prepare(data, pipeline.TrainConfig(epochs=50))
    result = pipeline.train(prepared)
    pipeline.write_run(result, "runs/demo")                       # model, report.html, metrics.json, ...

The rules that keep the evaluation honest:

1. The **evaluation scheme** follows the data size (:func:`biograd.stats.choose_scheme`): up to 5,000
   samples, (repeated) stratified k-fold cross-validation, where every sample is predicted by a network
   that never saw it and the test figures come from those out-of-fold predictions; beyond, one held-out
   test set split off first and used once, at the end.
2. In each fold (or the one split) a **validation part** of the training rows decides the best epoch.
3. Preprocessing (means, standard deviations) and, for tables with more features than samples, the
   choice of features are learned from each fold's **training rows** only. The saved model is the
   committee of the fold networks (:class:`biograd.nn.Committee`), each carrying its own scaling.
4. The **baselines** (logistic regression / ridge and a random forest, scikit-learn) learn from the same
   rows and predict the same samples as the network; every headline figure gets a 95% bootstrap interval
   and the verdict against the best baseline is a paired comparison ("better" only when the interval of
   the difference lies above zero).

Nothing here prints: progress goes through ``progress=`` (fit's progress bar) and everything else comes
back in a :class:`TrainResult`.

One file per step: ``config`` (the settings), ``sources`` (reading the data), ``prepare`` (split or
folds, preprocessing, the network), ``resample`` (one network per fold, the committee), ``run``
(training), ``evaluate`` (metrics, intervals and baselines), ``rundir`` (the run directory) and ``use``
(a trained run on new data). What the attributions say about the predictions
lives one layer down, in :mod:`biograd.explain`.
"""

from __future__ import annotations

from biograd.bio.dataset import SEQUENCE_KINDS, Dataset
from biograd.explain.predictions import (
    MAX_EXPLAIN_ROWS,
    Explanation,
    SiteGroup,
    attributions_towards_classes,
    class_index,
    class_order,
    common_sites,
    explain_sequences,
    explain_table,
    positive_class,
)
from biograd.pipeline.config import ConfigError, TrainConfig, parse_hidden
from biograd.pipeline.evaluate import (
    classification_metrics,
    compare,
    key_metric,
    regression_metrics,
    run_baselines,
)
from biograd.pipeline.prepare import Prepared, build_model, prepare, split
from biograd.pipeline.run import TrainResult, command_line, evaluate_external, train
from biograd.pipeline.rundir import PIPELINE_FORMAT, RUN_FILES, check_out_dir, metrics_document, write_run
from biograd.pipeline.sources import (
    FASTA_SUFFIXES,
    H5AD_SUFFIXES,
    MIN_SAMPLES,
    TABLE_SUFFIXES,
    data_format,
    load_data,
)
from biograd.pipeline.sources import (
    _load_dataset as _load_dataset,  # used by the tests
)
from biograd.pipeline.use import (
    NewData,
    evaluate_new,
    explain_new,
    load_run,
    predict_table,
    read_new_data,
)
from biograd.pipeline.use import (
    _reads_any_length as _reads_any_length,  # used by the tests
)

#: The name the data record had when the pipeline kept its own; every reader now returns a Dataset.
TrainingData = Dataset

__all__ = [
    "FASTA_SUFFIXES",
    "H5AD_SUFFIXES",
    "MAX_EXPLAIN_ROWS",
    "MIN_SAMPLES",
    "PIPELINE_FORMAT",
    "RUN_FILES",
    "SEQUENCE_KINDS",
    "TABLE_SUFFIXES",
    "ConfigError",
    "Dataset",
    "Explanation",
    "NewData",
    "Prepared",
    "SiteGroup",
    "TrainConfig",
    "TrainResult",
    "TrainingData",
    "attributions_towards_classes",
    "build_model",
    "check_out_dir",
    "class_index",
    "class_order",
    "classification_metrics",
    "command_line",
    "common_sites",
    "compare",
    "data_format",
    "evaluate_external",
    "evaluate_new",
    "explain_new",
    "explain_sequences",
    "explain_table",
    "key_metric",
    "load_data",
    "load_run",
    "metrics_document",
    "parse_hidden",
    "positive_class",
    "predict_table",
    "prepare",
    "read_new_data",
    "regression_metrics",
    "run_baselines",
    "split",
    "train",
    "write_run",
]
