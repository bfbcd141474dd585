"""Run directories: `biograd train` never replaces a complete run without --overwrite, an interrupted run
never replaces a complete one, the final swap leaves a run in place or recoverable at every instant, and
every mistake in --out is exit 2 before any training."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from biograd import pipeline
from biograd.bio.errors import DataError
from biograd.cli import main
from biograd.pipeline import rundir

FAST = ["--epochs", "2", "--quiet"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "d.csv"
    rng = np.random.default_rng(0)
    rows = [f"{a:.4f},{b:.4f},{'up' if a > 0 else 'down'}" for a, b in rng.normal(size=(60, 2))]
    path.write_text("a,b,y\n" + "\n".join(rows) + "\n")
    return path


def train(data: Path, out: Path, *extra: str) -> list[str]:
    return ["train", str(data), "--target", "y", *FAST, "--out", str(out), *extra]


def exits_2_before_training(capsys, argv: list[str], phrase: str) -> None:
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert phrase in captured.err and "Traceback" not in captured.err and "bug" not in captured.err
    assert "Training for" not in captured.out  # refused before any data was read or trained on


def test_a_complete_run_is_replaced_only_with_overwrite(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(train(data, out)) == 0
    capsys.readouterr()
    before = (out / "model.safetensors").read_bytes()
    exits_2_before_training(capsys, train(data, out, "--seed", "1"), "--overwrite")
    assert (out / "model.safetensors").read_bytes() == before
    assert main(train(data, out, "--seed", "1", "--overwrite")) == 0
    assert (out / "model.safetensors").read_bytes() != before
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".run.")]


@pytest.mark.parametrize("where", ["file", "under-file", "dot", "parent"])
def test_path_mistakes_are_exit_2_before_training(data, tmp_path, capsys, monkeypatch, where):
    (tmp_path / "afile.txt").write_text("mine")
    monkeypatch.chdir(tmp_path)
    out, phrase = {
        "file": ("afile.txt", "is a file"),
        "under-file": ("afile.txt/run", "which is a file"),
        "dot": (".", "current directory"),
        "parent": ("..", "current directory"),
    }[where]
    exits_2_before_training(capsys, train(data, Path(out)), phrase)
    assert (tmp_path / "afile.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile.txt"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_out_is_found_before_training(data, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        exits_2_before_training(capsys, train(data, locked / "run"), "cannot be written")
    finally:
        locked.chmod(0o755)


def test_an_unwritable_out_is_found_by_the_probe(data, tmp_path, monkeypatch):
    """The same check for root (which os.access and chmod do not stop): the probe directory fails."""

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(rundir.tempfile, "mkdtemp", refuse)
    with pytest.raises(DataError, match="cannot be written"):
        rundir.check_out_dir(tmp_path / "run")


def _result(data: Path, interrupt_at: int | None = None):
    from biograd.training import Callback

    class Interrupt(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == interrupt_at:
                raise KeyboardInterrupt

    loaded = pipeline.load_data(str(data), "y")
    prepared = pipeline.prepare(loaded, pipeline.TrainConfig(epochs=6))
    return pipeline.train(prepared, callbacks=[Interrupt()] if interrupt_at else None)


def test_an_interrupted_run_never_replaces_a_complete_one(data, tmp_path):
    out = tmp_path / "run"
    pipeline.write_run(_result(data), out)
    before = (out / "model.safetensors").read_bytes()
    interrupted = _result(data, interrupt_at=2)
    assert interrupted.interrupted
    written = pipeline.write_run(interrupted, out, overwrite=True)
    assert written == out.with_name("run.interrupted")
    assert (out / "model.safetensors").read_bytes() == before
    assert "INTERRUPTED" in (written / "report.html").read_text()
    # an interrupted run in --out may be replaced by the next one without --overwrite
    again = pipeline.write_run(_result(data), written)
    assert again == written and "INTERRUPTED" not in (written / "report.html").read_text()


def test_a_kill_between_the_two_renames_is_recovered_by_the_next_run(data, tmp_path, monkeypatch):
    out = tmp_path / "run"
    pipeline.write_run(_result(data), out)
    before = (out / "model.safetensors").read_bytes()
    real_replace = os.replace

    def die_before_the_second_rename(src, dst):
        if ".partial-" in str(src) and Path(dst) == out:  # the old run has moved aside already
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(rundir.os, "replace", die_before_the_second_rename)
    with pytest.raises(KeyboardInterrupt):
        pipeline.write_run(_result(data), out, overwrite=True)
    monkeypatch.setattr(rundir.os, "replace", real_replace)
    assert not out.exists() and [p for p in tmp_path.iterdir() if p.name.startswith(".run.old-")]
    with pytest.warns(UserWarning, match="restored the previous run"):
        rundir.check_out_dir(out, overwrite=True)
    assert (out / "model.safetensors").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".run.")]


def test_leftovers_of_killed_runs_are_removed(data, tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    partial = tmp_path / f".run.partial-{int(dead.stdout)}-abc123"
    partial.mkdir()
    (partial / "model.json").write_text("{}")
    alive = tmp_path / f".run.partial-{os.getppid()}-def456"  # a writer that still runs: kept
    alive.mkdir()
    with pytest.warns(UserWarning, match="killed while writing"):
        rundir.check_out_dir(tmp_path / "run")
    assert not partial.exists() and alive.exists()


def test_a_killed_process_leaves_the_previous_run_loadable(data, tmp_path):
    """kill -9 at random moments of a second `train --overwrite`: afterwards a run loads (the old one or
    the new one), once the next check has recovered any leftover."""
    import signal
    import time
    import warnings

    import biograd

    out = tmp_path / "run"
    assert main(train(data, out)) == 0
    src = str(Path(biograd.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    for delay in (0.5, 1.5, 2.5, 3.5):
        proc = subprocess.Popen(
            [sys.executable, "-m", "biograd", *train(data, out, "--overwrite")],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "restored ..." when the kill fell between the renames
            rundir.check_out_dir(out, overwrite=True)
        biograd.load(out)  # raises if neither run is in place
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".run.old-")]
