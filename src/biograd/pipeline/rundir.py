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
from biograd.io import save
from biograd.io.files import current_umask
from biograd.pipeline.prepare import training_profile
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
        "duplicates": p.data.extra.get("duplicates"),
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
    """Samples per part: of the one split, or per fold (the mean over the folds) with cross-validation;
    how the samples were grouped (no group straddles training and test)."""
    p = result.prepared
    grouping = {
        "grouping": p.data.grouping or None,
        "groups": None if p.data.groups is None else len(np.unique(p.data.groups)),
    }
    if not result.fold_summaries:
        counts = {"train": len(p.train_idx), "validation": len(p.val_idx), "test": len(p.test_idx)}
        return {**counts, **grouping}
    mean = {k: float(np.mean([f[k] for f in result.fold_summaries])) for k in ("train", "validation", "test")}
    return {"per": "fold (mean)", **mean, **grouping}


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
        "training_profile": training_profile(p),  # for the new-data checks of predict/evaluate/explain
    }


class RunExistsError(DataError):
    """``--out`` holds a complete earlier run and replacing it was not asked for (``--overwrite``)."""


def _holds_run(path: Path) -> bool:
    return path.is_dir() and (path / "model.json").is_file()


def _was_interrupted(path: Path) -> bool:
    """True when the run in ``path`` says it was interrupted (metrics.json), so a new run may replace it."""
    try:
        metrics = json.loads((path / "metrics.json").read_text(encoding="utf-8"))
        return bool(metrics["training"]["interrupted"])
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _leftovers(out: Path, kind: str) -> list[Path]:
    """``.NAME.old-*`` or ``.NAME.partial-*`` directories beside ``out`` (left by a run that was killed)."""
    prefix = f".{out.name}.{kind}-"
    try:
        return sorted(p for p in out.parent.iterdir() if p.name.startswith(prefix) and p.is_dir())
    except OSError:
        return []


def _writer_pid(leftover: Path) -> int | None:
    """The PID written into a leftover's name by write_run (``.NAME.partial-PID-random``), if any."""
    head = leftover.name.rsplit("-", 2)
    return int(head[-2]) if len(head) == 3 and head[-2].isdigit() else None


def recover_leftovers(out: Path) -> list[str]:
    """Put back what a killed ``write_run`` left beside ``out``; returns sentences saying what was done.

    - ``.NAME.old-*/run`` with no ``out``: the process died between the two renames of the final swap;
      the previous run is moved back to ``out``.
    - ``.NAME.old-*`` with ``out`` in place: the swap finished but the old run was not deleted; removed.
    - ``.NAME.partial-PID-*`` of a process that no longer runs: a run killed while writing; removed.
    """
    from biograd.io.files import process_is_alive

    done = []
    for old in _leftovers(out, "old"):
        pid = _writer_pid(old)
        if pid is not None and pid != os.getpid() and process_is_alive(pid):
            continue  # another biograd is swapping right now
        if not out.exists() and _holds_run(old / "run"):
            os.replace(old / "run", out)
            done.append(f"restored the previous run into {str(out)!r} (a run was killed while replacing it)")
        shutil.rmtree(old, ignore_errors=True)
    for partial in _leftovers(out, "partial"):
        pid = _writer_pid(partial)
        if pid is not None and pid != os.getpid() and not process_is_alive(pid):
            shutil.rmtree(partial, ignore_errors=True)
            done.append(f"removed {partial.name}, left by a run that was killed while writing")
    return done


def _first_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")


def check_out_dir(out_dir: str | os.PathLike, overwrite: bool = False) -> Path:
    """The run directory, if a run may be written there; otherwise a DataError saying why, before any
    training (``biograd train`` calls it first, ``write_run`` again).

    Refused: ``--out`` that is a file, that lies under a file, that is the current directory or one of
    its parents, that cannot be written (checked by creating and removing a directory beside it), or that
    holds files other than an earlier run's (:data:`RUN_FILES`: nothing of the user's is overwritten). A
    complete earlier run is replaced only with ``overwrite`` (RunExistsError otherwise); an interrupted
    one is replaced. Leftovers of killed runs are recovered first (:func:`recover_leftovers`), with a
    warning saying what was done.
    """
    import warnings

    given = str(out_dir)
    out = Path(os.path.abspath(out_dir))
    if out == Path(out.anchor) or Path.cwd() == out or out in Path.cwd().parents:
        raise DataError(
            f"--out {given!r} is the current directory or one of its parents; a run is written as a new "
            "directory (it replaces that directory as a whole). Give a new name, e.g. --out runs/first."
        )
    base = _first_existing(out.parent)
    if not base.is_dir():
        raise DataError(f"--out {given!r} lies under {str(base)!r}, which is a file, not a directory.")
    for note in recover_leftovers(out) if base == out.parent else []:
        warnings.warn(f"--out {given!r}: {note}.", stacklevel=2)
    if out.exists():
        if not out.is_dir():
            raise DataError(f"--out {given!r} is a file; give a directory name.")
        foreign = sorted(f.name for f in out.iterdir() if f.name not in RUN_FILES)
        if foreign:
            raise DataError(
                f"--out {given!r} already holds other files ({', '.join(foreign[:3])}); "
                "choose a new directory so nothing of yours is overwritten."
            )
        if _holds_run(out) and not overwrite and not _was_interrupted(out):
            raise RunExistsError(
                f"--out {given!r} holds a previous run; replace it with --overwrite (overwrite=True in "
                "Python), or choose a new directory."
            )
    try:
        probe = Path(tempfile.mkdtemp(prefix=f".{out.name}.probe-", dir=base))
        probe.rmdir()
    except OSError as err:
        raise DataError(
            f"--out {given!r} cannot be written: {str(base)!r} is not writable ({err.strerror or err})."
        ) from None
    return out


def write_run(result: TrainResult, out_dir: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write model.safetensors + model.json, report.html, metrics.json, history.csv and predictions.csv.

    Everything is written into ``.NAME.partial-PID-*`` beside ``out_dir`` and renamed into place at the
    end, so an error, Ctrl-C or kill never leaves a half-written run. Replacing an earlier run needs
    ``overwrite`` (see :func:`check_out_dir`). An interrupted training never replaces a complete run: it
    is written to ``NAME.interrupted`` beside it instead, and that path is returned. The swap moves the
    old run into ``.NAME.old-PID-*/run`` before moving the new one in; a process killed between the two
    renames leaves the old run there, and the next check_out_dir puts it back.
    """
    from biograd.report import render_report

    out = check_out_dir(out_dir, overwrite=overwrite)
    if result.interrupted and _holds_run(out) and not _was_interrupted(out):
        out = out.with_name(out.name + ".interrupted")
        out = check_out_dir(out, overwrite=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-{os.getpid()}-", dir=out.parent))
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
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-{os.getpid()}-", dir=out.parent))
            os.replace(out, old / "run")
            os.replace(tmp, out)  # a kill between these two renames: check_out_dir restores old/run
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
