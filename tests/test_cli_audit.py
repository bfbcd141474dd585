"""Audit of the command line on biologists' own data (issue 4): explanations of the right class, argparse
errors in one line, early checks, sequences longer than in training, ID-like targets, per-sample
explanations, whole files, broken pipes, one message per event.

Oracles: the planted truth (where the motif was put, which columns decide the class), completeness of
integrated gradients (attributions add up to score(x) - score(baseline)), numpy's correlation of
independently computed attributions."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biograd import explain, nn, pipeline
from biograd.cli import main
from biograd.training import Callback

MOTIF = "TTGACGTCAA"


def planted_fasta(path: Path, n: int, seed: int, lengths=(45, 60), with_labels: bool = True) -> list[int]:
    """Random DNA; even records carry MOTIF and are 'bound', odd ones 'unbound' (so the positive class
    sorts FIRST alphabetically). Returns the motif's 0-based start per record (-1: none)."""
    rng = np.random.default_rng(seed)
    starts, lines = [], []
    for i in range(n):
        length = int(rng.integers(*lengths))
        seq = list(rng.choice(list("ACGT"), length))
        start = -1
        if i % 2 == 0:
            start = int(rng.integers(0, length - len(MOTIF)))
            seq[start : start + len(MOTIF)] = MOTIF
        starts.append(start)
        label = f" label={'bound' if start >= 0 else 'unbound'}" if with_labels else ""
        lines += [f">s{i}{label}", "".join(seq)]
    path.write_text("\n".join(lines) + "\n")
    return starts


@pytest.fixture(scope="module")
def dna_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("dna")
    fasta = root / "train.fa"
    planted_fasta(fasta, 240, seed=0)
    out = root / "run"
    assert main(["train", str(fasta), "--epochs", "25", "--quiet", "--out", str(out)]) == 0
    return root, out


def overlaps(site_start: int, site_end: int, motif_start: int, at_least: int = 6) -> bool:
    """Does the 1-based site [site_start, site_end] share at least ``at_least`` bases with the motif?"""
    lo, hi = max(site_start, motif_start + 1), min(site_end, motif_start + len(MOTIF))
    return hi - lo + 1 >= at_least


# 1. the explained class ---


def test_sequence_sites_find_the_motif_when_the_positive_class_sorts_first(dna_run, tmp_path, capsys):
    _root, out = dna_run
    new = tmp_path / "new.fa"
    starts = planted_fasta(new, 40, seed=5, with_labels=False)
    model, info = pipeline.load_run(out)
    data = pipeline.read_new_data(info, new, model=model)
    found = pipeline.explain_new(model, info, data, top=10)
    assert [g.class_name for g in found.groups] == ["bound", "unbound"]  # positive by name, not alphabet
    bound = found.groups[0]
    by_id = {f"s{i}": s for i, s in enumerate(starts)}
    top_sites = bound.sites[:10]
    assert all(by_id[s["id"]] >= 0 for s in top_sites)  # the confident 'bound' ones carry the motif
    hits = sum(overlaps(s["start"], s["end"], by_id[s["id"]]) for s in top_sites)
    assert hits >= 9, top_sites
    # --class bound on the command line: the same sites, written with --out
    sites_csv = tmp_path / "sites.csv"
    assert (
        main(["explain", str(out), str(new), "--class", "bound", "--top", "10", "--out", str(sites_csv)]) == 0
    )
    text = capsys.readouterr().out
    assert "towards 'bound'" in text and "'unbound'" not in text
    table = pd.read_csv(sites_csv)
    assert set(table["class"]) == {"bound"} and len(table) == 10
    assert sum(overlaps(r.start, r.end, by_id[r.id]) for r in table.itertuples()) >= 9
    # the report's section 6 ranks the same way: its 'bound' group's frequent sites are pieces of MOTIF
    html = (out / "report.html").read_text()
    assert "Sequences predicted as bound" in html
    section = html[html.index("Sequences predicted as bound") : html.index("Sequences predicted as unbound")]
    assert any(MOTIF[k : k + 6] in section for k in range(len(MOTIF) - 5))


def test_positive_class_by_name():
    assert pipeline.positive_class(["bound", "unbound"]) == 0
    assert pipeline.positive_class(["background", "motif"]) == 1
    assert pipeline.positive_class(["disease", "healthy"]) == 0
    assert pipeline.positive_class(["0", "1"]) == 1
    assert pipeline.positive_class(["A", "B"]) == 1  # names that do not tell: class 1, as pos_label


def test_unknown_class_is_named(dna_run, tmp_path, capsys):
    _root, out = dna_run
    new = tmp_path / "new.fa"
    planted_fasta(new, 4, seed=1, with_labels=False)
    assert main(["explain", str(out), str(new), "--class", "Bound"]) == 2
    err = capsys.readouterr().err
    assert "'Bound'" in err and "'bound', 'unbound'" in err


# 2. argparse errors ---


@pytest.mark.parametrize(
    "argv, option",
    [
        (["train", "d.csv", "--lr", "abc"], "--lr"),
        (["train", "d.csv", "--epochs", "1.5"], "--epochs"),
        (["train", "d.csv", "--batch-size", "x"], "--batch-size"),
        (["explain", "run", "d.csv", "--top", "many"], "--top"),
    ],
)
def test_wrong_option_value_is_one_error_line_and_a_hint(argv, option, capsys):
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("error: ") and option in lines[0]
    assert f"biograd {argv[0]} --help" in lines[1]


# 3. --out checked before the data are read ---------------------------------------------------------------


def test_bad_out_is_rejected_before_reading_data(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my own notes")
    # the data file does not even exist: the --out error must come first, so it was checked up front
    assert main(["train", str(tmp_path / "missing.csv"), "--target", "y", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "notes.txt" in err and "missing.csv" not in err
    assert (out / "notes.txt").read_text() == "my own notes"


# 4. sequences longer than in training ---


def test_predict_pads_but_never_trims_for_a_pooled_cnn(dna_run, tmp_path):
    _root, out = dna_run
    rng = np.random.default_rng(7)
    lines, truth = [], []
    for i in range(6):
        seq = list(rng.choice(list("ACGT"), 120))
        if i % 2 == 0:
            seq[80 : 80 + len(MOTIF)] = MOTIF  # beyond the training length (< 60)
        truth.append("bound" if i % 2 == 0 else "unbound")
        lines += [f">long{i}", "".join(seq)]
    new = tmp_path / "long.fa"
    new.write_text("\n".join(lines) + "\n")
    model, info = pipeline.load_run(out)
    assert info["preprocessing"]["length"] < 80
    data = pipeline.read_new_data(info, new, model=model)
    assert data.x.shape[2] == 120  # nothing cut
    target = tmp_path / "p.csv"
    assert main(["predict", str(out), str(new), "--out", str(target)]) == 0
    assert list(pd.read_csv(target).predicted) == truth


def test_fixed_length_networks_are_recognised():
    pooled = nn.Sequential(nn.Conv1d(4, 2, 3), nn.ReLU(), nn.GlobalMaxPool1d(), nn.Linear(2, 1))
    flat = nn.Sequential(nn.Conv1d(4, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 8, 1))
    assert pipeline._reads_any_length(pooled) and not pipeline._reads_any_length(flat)


# 5. ID-like targets --------------------------------------------------------------------------------------


def _id_table(path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 200
    pd.DataFrame(
        {
            "Patient ID": [f"P{i:04d}" for i in range(n)],
            "gene_a": rng.normal(size=n),
            "level": rng.normal(size=n),
            "status": rng.choice(["healthy", "sick"], size=n),
        }
    ).to_csv(path, index=False)


@pytest.mark.parametrize(
    "extra", [["--target", "Patient ID"], ["--target", "level", "--task", "classification"]]
)
def test_id_like_or_continuous_target_is_named(extra, tmp_path, capsys):
    csv = tmp_path / "t.csv"
    _id_table(csv)
    assert main(["train", str(csv), *extra, "--quiet", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "looks like an ID column or a continuous value" in err and "--task regression" in err
    assert "stratify" not in err and "warning" not in err  # no imbalance warning in front of the error


# 6. multi-class directions ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def multi_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("multi")
    rng = np.random.default_rng(1)
    n = 360
    x = rng.normal(size=(n, 4))
    kind = np.asarray(["alpha", "beta", "gamma"])[x[:, :3].argmax(axis=1)]  # planted: the largest of f0-f2
    frame = pd.DataFrame(x, columns=["f0", "f1", "f2", "noise"])
    frame["kind"] = kind
    csv = root / "multi.csv"
    frame.to_csv(csv, index=False)
    out = root / "run"
    assert main(["train", str(csv), "--target", "kind", "--epochs", "60", "--quiet", "--out", str(out)]) == 0
    return csv, out


def test_multiclass_directions_are_per_class_and_match_the_planted_rule(multi_run, tmp_path, capsys):
    csv, out = multi_run
    ranking = tmp_path / "r.csv"
    assert main(["explain", str(out), str(csv), "--out", str(ranking)]) == 0
    text = capsys.readouterr().out
    assert "last class" not in text
    table = pd.read_csv(ranking).set_index("feature")
    assert "direction" not in table.columns
    for feature, cls in (("f0", "alpha"), ("f1", "beta"), ("f2", "gamma")):
        assert table.loc[feature, f"direction_{cls}"] > 0.5  # raising f_k raises class k's logit
        for other in {"alpha", "beta", "gamma"} - {cls}:
            assert table.loc[feature, f"direction_{other}"] < 0


def test_multiclass_class_option_direction_is_numpy_correlation_of_that_class(multi_run):
    csv, out = multi_run
    model, info = pipeline.load_run(out)
    data = pipeline.read_new_data(info, csv, model=model)
    found = pipeline.explain_new(model, info, data, top=10, explain_class="beta")
    beta = info["preprocessing"]["class_names"].index("beta")
    # a committee (cross-validated run) is explained as the average of its members' attributions
    networks = model.members if isinstance(model, nn.Committee) else [model]
    ig = np.mean(
        [explain.integrated_gradients(m, data.x, steps=32, target=beta).astype(np.float64) for m in networks],
        axis=0,
    )
    names = info["feature_names"]
    for _, row in found.ranking.iterrows():
        j = names.index(row["feature"])
        expected = np.corrcoef(data.x[:, j].astype(np.float64), ig[:, j])[0, 1]
        assert row["direction"] == pytest.approx(expected, abs=1e-4)


# 7. per-sample explanations ---------------------------------------------------------------------------------


def test_per_sample_table_rows_add_up_to_the_score_change(multi_run, tmp_path):
    csv, out = multi_run
    per = tmp_path / "per.csv"
    assert main(["explain", str(out), str(csv), "--per-sample", str(per)]) == 0
    got = pd.read_csv(per)
    model, info = pipeline.load_run(out)
    data = pipeline.read_new_data(info, csv, model=model)
    assert len(got) == len(data.x) and list(got.columns[4:]) == info["feature_names"]
    names = info["preprocessing"]["class_names"]
    explained = np.asarray([names.index(c) for c in got.explained_class])
    rows = np.arange(len(data.x))
    # integrated gradients' sum is each network's logit change from the zero baseline; a committee's
    # attributions are its members' averaged, so their sum is the members' average change
    networks = getattr(model, "members", [model])
    completeness = np.mean(
        [
            (explain.outputs(m, data.x) - explain.outputs(m, np.zeros_like(data.x)))[rows, explained]
            for m in networks
        ],
        axis=0,
    )
    # up to the trapezoidal rule's error on 32 steps across ReLU kinks
    np.testing.assert_allclose(got[info["feature_names"]].sum(axis=1), completeness, atol=0.1)
    assert (got.explained_class == got.predicted).all()


def test_per_sample_sequences_per_position(dna_run, tmp_path):
    _root, out = dna_run
    new = tmp_path / "new.fa"
    planted_fasta(new, 12, seed=9, with_labels=False)
    per = tmp_path / "per.csv"
    assert main(["explain", str(out), str(new), "--per-sample", str(per)]) == 0
    got = pd.read_csv(per)
    model, info = pipeline.load_run(out)
    data = pipeline.read_new_data(info, new, model=model)
    positions = [c for c in got.columns if c.startswith("position_")]
    assert len(got) == 12 and len(positions) == data.x.shape[2]
    networks = getattr(model, "members", [model])  # a committee's attributions are its members' mean
    z = np.mean(
        [
            explain.outputs(m, data.x)[:, 0] - explain.outputs(m, np.zeros_like(data.x))[:, 0]
            for m in networks
        ],
        axis=0,
    )
    sign = np.where(got.explained_class == "bound", -1.0, 1.0)  # one logit: class 1 'unbound' is +z
    np.testing.assert_allclose(got[positions].sum(axis=1), sign * z, atol=0.05)


# 8. the whole file ---


def test_explain_uses_the_whole_file_or_says_it_sampled(multi_run, tmp_path, capsys, monkeypatch):
    csv, out = multi_run
    per = tmp_path / "per.csv"
    assert main(["explain", str(out), str(csv), "--per-sample", str(per)]) == 0
    assert "over all 360 samples" in capsys.readouterr().out and len(pd.read_csv(per)) == 360
    monkeypatch.setitem(pipeline.MAX_EXPLAIN_ROWS, "table", 50)
    assert main(["explain", str(out), str(csv), "--per-sample", str(per)]) == 0
    assert "a random sample of 50 of the 360 samples" in capsys.readouterr().out
    assert len(pd.read_csv(per)) == 50


# 9. broken pipe ---


def test_output_into_a_closed_pipe_is_not_a_bug(dna_run, tmp_path):
    _root, out = dna_run
    new = tmp_path / "new.fa"
    planted_fasta(new, 30, seed=3, with_labels=False)
    target = tmp_path / "p.csv"
    # like the installed console script: biograd.cli.main, not python -m biograd
    code = "import sys; from biograd.cli import main; sys.exit(main())"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "predict", str(out), str(new), "--out", str(target)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    proc.stdout.close()  # the reader is gone before the first line (| head -0)
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert proc.returncode == 0, err
    assert "bug" not in err and "BrokenPipe" not in err and "Exception ignored" not in err
    assert len(pd.read_csv(target)) == 30


# 10. one message per event ---


class _InterruptAt(Callback):
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_ctrl_c_says_restored_once():
    data = pipeline.load_data(dataset="breast-cancer")
    prepared = pipeline.prepare(data, pipeline.TrainConfig(epochs=50, patience=50))
    stream = io.StringIO()
    result = pipeline.train(prepared, callbacks=[_InterruptAt(6)], progress=True, progress_stream=stream)
    assert result.interrupted
    text = stream.getvalue().lower()
    assert text.count("restored the weights") == 1, text
    assert result.history.restored_epoch == result.history.best_epoch


def test_missing_labels_error_comes_alone(dna_run, tmp_path, capsys):
    _root, out = dna_run
    new = tmp_path / "new.fa"
    planted_fasta(new, 10, seed=4, lengths=(20, 30), with_labels=False)  # shorter: would be padded
    assert main(["evaluate", str(out), str(new)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "label" in err[0]
