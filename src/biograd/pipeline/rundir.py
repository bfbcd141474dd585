"""The run directory: what ``biograd train --out`` writes (model, report, metrics, history,
predictions), written atomically and never over a user's own files."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from biograd.bio.errors import DataError
from biograd.io import current_umask, save
from biograd.pipeline.run import TrainResult

#: Files written by :func:`write_run`; a directory holding only these may be replaced by a new run.
RUN_FILES = (
    "model.safetensors",
    "model.json",
    "report.html",
    "metrics.json",
    "history.csv",
    "predictions.csv",
)


PIPELINE_FORMAT = "biograd-train-1"


def metrics_document(result: TrainResult) -> dict[str, Any]:
    """What metrics.json holds: test metrics, baselines, the comparison, the split and the training."""
    p = result.prepared
    return {
        "format": PIPELINE_FORMAT,
        "data": {
            "name": p.data.name,
            "source": p.data.source,
            "kind": p.data.kind,
            "task": p.data.task,
            "samples": p.data.n_samples,
            "features": len(p.feature_names),
            "classes": p.data.class_counts(),
        },
        "split": _split_counts(result),
        "model": {
            "architecture": p.architecture,
            "parameters": p.n_parameters,
            "committee_members": len(result.fold_histories) or None,
            "selected_features": result.selection,
        },
        "evaluation": {
            **result.evaluation,
            "description": result.scheme_text,
            "folds_run": result.fold_summaries,
        },
        "test": result.test_metrics,
        "test_ci": result.test_ci,
        "small_sample_warning": result.small_sample,
        "external_test": result.external_test,
        "baselines": result.baselines,
        "comparison": result.comparison,
        "training": {
            **result.history.summary(),
            "diagnosis": result.diagnosis.verdict,
            "diagnosis_text": str(result.diagnosis),
            "interrupted": result.interrupted,
            "seconds": result.seconds,
        },
        "config": p.config.as_dict(),
        "versions": result.versions,
        "command": result.command,
    }


def _split_counts(result: TrainResult) -> dict[str, Any]:
    """Samples per part: of the one split, or per fold (the mean over the folds) with cross-validation."""
    p = result.prepared
    if not result.fold_summaries:
        return {"train": len(p.train_idx), "validation": len(p.val_idx), "test": len(p.test_idx)}
    mean = {k: float(np.mean([f[k] for f in result.fold_summaries])) for k in ("train", "validation", "test")}
    return {"per": "fold (mean)", **mean}


def _model_metadata(result: TrainResult) -> dict[str, Any]:
    p = result.prepared
    return {
        "pipeline": PIPELINE_FORMAT,
        "task": p.data.task,
        "feature_names": p.feature_names,
        "class_names": list(p.data.target_names) or None,
        "preprocessing": p.preprocessing,
        "architecture_text": p.architecture,
        "config": p.config.as_dict(),
        "data_name": p.data.name,
        "kernel_size": p.kernel_size,
        "evaluation": result.evaluation,
        "committee_members": len(result.committee) if result.committee is not None else None,
        "selected_features": result.selection["k"] if result.selection else None,
    }


def check_out_dir(out_dir: str | os.PathLike) -> Path:
    """The run directory, if a run may be written there: new, or holding only files of an earlier run
    (:data:`RUN_FILES`). DataError for a file or a directory holding anything else, so nothing of the
    user's is overwritten. ``biograd train`` calls it before reading the data, ``write_run`` again."""
    out = Path(out_dir)
    if out.exists():
        if not out.is_dir():
            raise DataError(f"--out {str(out)!r} is a file; give a directory name.")
        foreign = sorted(f.name for f in out.iterdir() if f.name not in RUN_FILES)
        if foreign:
            raise DataError(
                f"--out {str(out)!r} already holds other files ({', '.join(foreign[:3])}); "
                "choose a new directory so nothing of yours is overwritten."
            )
    return out


def write_run(result: TrainResult, out_dir: str | os.PathLike) -> Path:
    """Write model.safetensors + model.json, report.html, metrics.json, history.csv and predictions.csv.

    Everything is written into a temporary directory beside ``out_dir`` and renamed at the end, so an
    error (or Ctrl-C) never leaves a half-written run. An existing ``out_dir`` holding only files of an
    earlier run is replaced; one holding anything else is left alone (DataError).
    """
    from biograd.report import render_report

    out = check_out_dir(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes it private; a run directory is not
        save(result.model, tmp, metadata=_model_metadata(result), history=result.history)
        (tmp / "metrics.json").write_text(
            json.dumps(metrics_document(result), indent=2, default=_json_default), encoding="utf-8"
        )
        result.history.to_frame().to_csv(tmp / "history.csv")
        result.predictions.to_csv(tmp / "predictions.csv", index=False)
        (tmp / "report.html").write_text(render_report(result), encoding="utf-8")
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / "run")
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")
