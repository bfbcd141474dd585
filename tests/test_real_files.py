"""Real files, no silent leaks: duplicates, conflicting labels, groups and related sequences kept on one
side of every split; expression matrices with a sample sheet. Small files made here; oracles: set
intersections of the split's groups, pandas' own transpose of the matrix, counts made by hand."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from biograd import pipeline
from biograd.bio.errors import DataError
from biograd.bio.relatives import connected_groups
from biograd.cli import main

PROTEIN = list("ACDEFGHIKLMNPQRSTVWY")


def _table(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "patient": [f"P{i // 3:02d}" for i in range(n)],
            "gene_a": rng.normal(size=n),
            "gene_b": rng.normal(size=n),
        }
    )
    frame["status"] = np.where(frame.gene_a > 0, "sick", "well")
    return frame


def _with_copies(frame: pd.DataFrame) -> pd.DataFrame:
    """Row 5 copies row 4 (same label); row 7 copies row 6 with the other label."""
    frame = frame.copy()
    frame.loc[5, ["gene_a", "gene_b", "status"]] = frame.loc[4, ["gene_a", "gene_b", "status"]].to_numpy()
    frame.loc[7, ["gene_a", "gene_b"]] = frame.loc[6, ["gene_a", "gene_b"]].to_numpy()
    frame.loc[6, "status"], frame.loc[7, "status"] = "well", "sick"
    return frame


def _split_groups(prepared: pipeline.Prepared, labels: np.ndarray) -> list[set]:
    return [set(labels[idx].tolist()) for idx in (prepared.train_idx, prepared.val_idx, prepared.test_idx)]


def _no_straddle(prepared: pipeline.Prepared, labels: np.ndarray) -> None:
    """No group on two sides: of the held-out split, or of any cross-validation fold (and of the split of
    a fold's training rows into training and validation, which stops each fold's network)."""
    from biograd.pipeline.resample import _inner_split

    if not prepared.folds:
        train, val, test = _split_groups(prepared, labels)
        assert not train & test and not train & val and not val & test
        return
    for number, fold in enumerate(prepared.folds):
        train, test = set(labels[fold.train].tolist()), set(labels[fold.test].tolist())
        assert not train & test
        kept, held = _inner_split(prepared, fold.train, number)
        assert not set(labels[kept].tolist()) & set(labels[held].tolist())


def test_connected_groups_joins_chains():
    # sample 1 shares a patient with 0 and a copy with 2: all three are one group; 3 stands alone
    assert connected_groups(["a", "a", "b", "c"], [0, 1, 1, 2]).tolist() == [0, 0, 0, 1]
    assert connected_groups([5, 7, 5]).tolist() == [0, 1, 0]


def test_table_duplicates_counted_and_conflicts_left_out(tmp_path):
    path = tmp_path / "clinic.csv"
    _with_copies(_table()).drop(columns="patient").to_csv(path, index=False)
    with pytest.warns(UserWarning) as caught:
        data = pipeline.load_data(path, "status")
    text = " ".join(str(w.message) for w in caught)
    assert "2 of 60 samples are exact copies" in text
    assert "left out (7, 8)" in text and "--keep-conflicting" in text
    assert data.n_samples == 58
    assert data.extra["duplicates"]["conflicting_removed"] == 2
    assert "1 identical samples" in data.grouping
    # the remaining copies (rows 5 and 6 in the file, IDs '5' and '6') are on one side of the split
    prepared = pipeline.prepare(data)
    where = {
        i: k for k, idx in enumerate((prepared.train_idx, prepared.val_idx, prepared.test_idx)) for i in idx
    }
    a, b = data.ids.index("5"), data.ids.index("6")
    assert where[a] == where[b]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kept = pipeline.load_data(path, "status", keep_conflicting=True)
    assert kept.n_samples == 60 and kept.extra["duplicates"]["conflicting_kept"]


def test_groups_column_never_straddles_and_is_not_a_feature(tmp_path):
    path = tmp_path / "patients.csv"
    _table(90).to_csv(path, index=False)
    data = pipeline.load_data(path, "status", groups="patient")
    assert "patient" not in data.features.columns
    assert "'patient' (30 groups)" in data.grouping
    patients = _table(90)["patient"].to_numpy()
    for seed in range(4):
        _no_straddle(pipeline.prepare(data, pipeline.TrainConfig(seed=seed)), patients)  # folds
        prepared = pipeline.prepare(data, pipeline.TrainConfig(seed=seed, evaluation="holdout"))
        _no_straddle(prepared, patients)
        assert len(prepared.test_idx) == pytest.approx(18, abs=6)
    with pytest.raises(DataError, match="no column 'patiant' for --groups"):
        pipeline.load_data(path, "status", groups="patiant")


def test_fasta_duplicates_and_relatives_on_one_side(tmp_path):
    rng = np.random.default_rng(1)
    seqs = ["".join(rng.choice(PROTEIN, 24)) for _ in range(60)]
    records = [(f"s{i}", s, "amp" if i % 2 else "non") for i, s in enumerate(seqs)]
    records += [(f"copy{i}", seqs[i], "amp" if i % 2 else "non") for i in range(1, 20, 2)]  # same label
    records += [("clash", seqs[0], "amp")]  # s0 is "non"
    records += [(f"rel{i}", seqs[i][:21] + "WWW", "amp") for i in range(1, 10, 2)]  # a family member
    path = tmp_path / "peptides.fa"
    path.write_text("".join(f">{n} label={lab}\n{s}\n" for n, s, lab in records))
    with pytest.warns(UserWarning, match="carry different labels and were left out"):
        data = pipeline.load_data(path)
    assert "s0" not in data.ids and "clash" not in data.ids
    assert data.extra["duplicates"]["duplicate_copies"] == 10
    assert "3-mers" in data.grouping and "67% identity" in data.grouping
    family = np.array([n.replace("copy", "s").replace("rel", "s") for n in data.ids])
    for seed in range(3):
        for evaluation in ("auto", "holdout"):
            config = pipeline.TrainConfig(seed=seed, evaluation=evaluation)
            _no_straddle(pipeline.prepare(data, config), family)


def _matrix_files(tmp_path, n: int = 40, transpose: bool = False):
    rng = np.random.default_rng(2)
    values = rng.normal(size=(6, n))
    samples = [f"GSM{100 + i}" for i in range(n)]
    genes = [f"GENE{j}" for j in range(6)]
    matrix = pd.DataFrame(values, columns=samples)
    matrix.insert(0, "gene", genes)
    if transpose:
        matrix = pd.DataFrame(values.T, columns=genes)
        matrix.insert(0, "sample", samples)
    sheet = pd.DataFrame({"geo_accession": samples[::-1], "tumour": rng.choice(["LUAD", "LUSC"], n)})
    matrix.to_csv(tmp_path / "matrix.csv", index=False)
    sheet.to_csv(tmp_path / "samplesheet.csv", index=False)
    return pd.DataFrame(values.T, index=samples, columns=genes), sheet.set_index("geo_accession")


@pytest.mark.parametrize("transpose", [False, True])
def test_matrix_with_sample_sheet(tmp_path, transpose):
    expected, sheet = _matrix_files(tmp_path, transpose=transpose)
    data = pipeline.load_data(tmp_path / "matrix.csv", "tumour", labels=tmp_path / "samplesheet.csv")
    assert data.input_format == "matrix" and data.feature_names == list(expected.columns)
    got = data.features.set_axis(data.ids).loc[expected.index]
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy())
    names = np.asarray(data.target_names)[data.y]
    assert list(names) == sheet.loc[data.ids, "tumour"].tolist()


def test_cli_train_matrix_groups_recorded(tmp_path, capsys):
    _matrix_files(tmp_path)
    sheet = pd.read_csv(tmp_path / "samplesheet.csv")
    sheet["donor"] = [f"D{i // 2}" for i in range(len(sheet))]
    sheet.to_csv(tmp_path / "samplesheet.csv", index=False)
    out = tmp_path / "run"
    code = main(
        [
            "train",
            str(tmp_path / "matrix.csv"),
            "--labels",
            str(tmp_path / "samplesheet.csv"),
            "--target",
            "tumour",
            "--groups",
            "donor",
            "--epochs",
            "2",
            "--quiet",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert "Groups:  Samples are grouped by 'donor' (20 groups)" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["split"]["groups"] == 20 and "'donor'" in metrics["split"]["grouping"]
    assert metrics["duplicates"]["duplicate_copies"] == 0
    report = (out / "report.html").read_text()
    assert "Samples are grouped by &#x27;donor&#x27; (20 groups)" in report
    predictions = pd.read_csv(out / "predictions.csv")
    donors = dict(zip(sheet["geo_accession"], sheet["donor"], strict=True))
    test_donors = {donors[i] for i in predictions["id"]}
    train_rows = set(sheet["geo_accession"]) - set(predictions["id"])
    assert not test_donors & {donors[i] for i in train_rows}


def test_sequence_explanations_stay_inside_each_sequence():
    """Short peptides in a long-padded set: sites never run past a sequence's end, padding carries no
    attribution, the mutagenesis heatmap is as wide as the sequence."""
    from biograd import nn
    from biograd.bio.sequences import one_hot
    from biograd.explain import explain_sequences
    from biograd.random import manual_seed

    rng = np.random.default_rng(3)
    seqs = ["".join(rng.choice(PROTEIN, int(n))) for n in rng.integers(10, 25, size=40)]
    seqs.append("".join(rng.choice(PROTEIN, 60)))  # one long sequence pads the others to 60
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the padding warning
        x = one_hot(seqs, alphabet="protein", length=60)
    manual_seed(0)
    model = nn.Sequential(nn.Conv1d(20, 6, 5), nn.ReLU(), nn.GlobalMaxPool1d(), nn.Linear(6, 2))
    ids = [f"p{i}" for i in range(len(seqs))]
    found = explain_sequences(model, x, ids, seqs, "classification", 9, class_names=["non", "amp"])
    by_id = dict(zip(ids, seqs, strict=True))
    for group in found.groups:
        for site in group.sites:
            seq = by_id[site["id"]]
            assert 1 <= site["start"] <= site["end"] <= len(seq)
            assert site["site"] == seq[site["start"] - 1 : site["end"]]
            assert site["top_position"] <= len(seq)
        if group.n:
            assert group.ism.shape == (20, len(group.top_sequences[0]))
    rows = found.per_sample.set_index("id")
    for i, seq in zip(ids, seqs, strict=True):
        values = rows.loc[i, [f"position_{p + 1}" for p in range(60)]].to_numpy(dtype=float)
        assert np.isnan(values[len(seq) :]).all() and not np.isnan(values[: len(seq)]).any()
    assert list(found.lengths) == [len(s) for s in seqs]


def test_composition_baseline_is_compared_when_composition_decides():
    """Activity set by charge (share of K/R), wherever the residues sit: a composition model sees it, a
    flattened padded one-hot model barely does; the comparison takes the strongest baseline."""
    from biograd.bio.sequences import one_hot
    from biograd.pipeline.evaluate import compare, composition_baselines, run_baselines

    rng = np.random.default_rng(4)
    seqs, labels = [], []
    for _ in range(400):
        n = int(rng.integers(12, 40))
        charged = rng.random() < 0.5
        p = np.full(20, 1.0)
        p[[PROTEIN.index("K"), PROTEIN.index("R")]] = 3.0 if charged else 1.0
        seqs.append("".join(rng.choice(PROTEIN, n, p=p / p.sum())))
        labels.append(int(charged))
    y = np.array(labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x = one_hot(seqs, alphabet="protein")
    fit, test = np.arange(300), np.arange(300, 400)
    names = ["inactive", "active"]
    base = run_baselines(x[fit], y[fit], x[test], y[test], "classification", names, 0)
    comp = composition_baselines(
        [seqs[i] for i in fit], y[fit], [seqs[i] for i in test], y[test], "classification", names, "protein"
    )
    name = "k-mer composition (k = 1) + logistic regression"
    assert set(comp) == {name, "k-mer composition (k = 1, 2) + logistic regression"}
    assert comp[name]["roc_auc"] > 0.85 > base["logistic regression"]["roc_auc"] + 0.05
    verdict = compare("classification", {"roc_auc": 0.8, "balanced_accuracy": 0.8}, {**base, **comp})
    assert verdict["best_baseline"] == name and verdict["network_beats_baseline"] is False


def test_h5ad_layer_raw_reads_dot_raw(tmp_path):
    anndata = pytest.importorskip("anndata")
    from biograd.bio import read_h5ad

    rng = np.random.default_rng(5)
    counts = rng.poisson(5, size=(30, 8)).astype(np.float32)
    obs = pd.DataFrame({"cell_type": ["T", "B", "NK"] * 10}, index=[f"c{i}" for i in range(30)])
    full = anndata.AnnData(X=counts, obs=obs, var=pd.DataFrame(index=[f"G{j}" for j in range(8)]))
    full.raw = full.copy()
    adata = full[:, :5].copy()  # .X keeps 5 genes, .raw all 8: as after selecting highly variable genes
    adata.X = np.log1p(adata.X)
    path = tmp_path / "cells.h5ad"
    adata.write_h5ad(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the raw-counts advice
        cells = read_h5ad(path, label="cell_type", layer="raw")
    assert cells.feature_names == [f"G{j}" for j in range(8)]
    np.testing.assert_array_equal(cells.x, counts)
    path2 = tmp_path / "plain.h5ad"
    anndata.AnnData(X=np.log1p(counts), obs=obs).write_h5ad(path2)
    with pytest.raises(DataError, match=r"no layer 'raw' and no \.raw matrix"):
        read_h5ad(path2, label="cell_type", layer="raw")


def test_h5ad_library_warnings_summarized_in_one_line(tmp_path, monkeypatch):
    anndata = pytest.importorskip("anndata")
    from biograd.bio import read_h5ad

    path = tmp_path / "cells.h5ad"
    obs = pd.DataFrame({"cell_type": ["T", "B"] * 10}, index=[f"c{i}" for i in range(20)])
    anndata.AnnData(X=np.random.default_rng(0).normal(size=(20, 4)), obs=obs).write_h5ad(path)
    real = anndata.read_h5ad

    def noisy(*args, **kwargs):
        for i in range(36):
            warnings.warn(f"Transforming to str index ({i})", FutureWarning, stacklevel=1)
        return real(*args, **kwargs)

    monkeypatch.setattr(anndata, "read_h5ad", noisy)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read_h5ad(path, label="cell_type")
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1
    # anndata itself may add notices of its own (e.g. pandas-4 deprecations on the newest versions):
    # they are counted in the same one line, never shown one by one.
    match = re.match(r"anndata warned (\d+) time\(s\) while reading 'cells.h5ad' \(([^)]*)\)", messages[0])
    assert match, messages[0]
    assert int(match.group(1)) >= 36
    assert "FutureWarning" in match.group(2).split(", ")


@pytest.fixture(scope="module")
def table_model(tmp_path_factory):
    """A short run on a table; then the same distribution and a shifted batch (gene_b in other units)."""
    tmp = tmp_path_factory.mktemp("shift")
    rng = np.random.default_rng(6)
    n = 300
    frame = pd.DataFrame({f"gene_{c}": rng.normal(size=n) for c in "abcd"})
    frame["status"] = np.where(frame.gene_a > 0, "tumour", "normal")
    frame.iloc[:200].to_csv(tmp / "train.csv", index=False)
    frame.iloc[200:].to_csv(tmp / "same.csv", index=False)
    shifted = frame.iloc[200:].copy()
    shifted["gene_b"] = shifted["gene_b"] * 100 + 500  # another batch, other units
    shifted.to_csv(tmp / "batch2.csv", index=False)
    out = tmp / "run"
    argv = [
        "train",
        str(tmp / "train.csv"),
        "--target",
        "status",
        "--epochs",
        "3",
        "--quiet",
        "--out",
        str(out),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(argv) == 0
    return tmp, out


def test_new_data_shift_warned_named_and_recorded(table_model, capsys):
    tmp, out = table_model
    meta = json.loads((out / "model.json").read_text())
    profile = meta.get("training_profile") or meta["metadata"]["training_profile"]
    # cross-validation: the committee's members together trained on all 200 samples (each member on its
    # fold's rows), so the profile of what the model has seen covers them all
    assert profile["samples"] == 200
    assert profile["names"][:2] == ["gene_a", "gene_b"]

    model, info = pipeline.load_run(out)
    with pytest.warns(UserWarning, match=r"batch2.csv: The new samples as a whole differ .* 'gene_b'"):
        new = pipeline.read_new_data(info, tmp / "batch2.csv", model=model)
    assert new.shift.shifted[0][0] == "gene_b"
    # closed form: standardizing is affine, so the shift in training SDs is that of the raw values,
    # (mean(100 b + 500) - mean(b)) / sd(b) with b ~ N(0, 1): about 500
    assert 400 < new.shift.shifted[0][1] < 600 and new.shift.outside_samples.all()
    table = pipeline.predict_table(model, info, new)
    assert table["outside_training_range"].all()
    metrics = pipeline.evaluate_new(model, info, new)
    assert metrics["new_data_shift"]["shifted_features"][0]["feature"] == "gene_b"
    found = pipeline.explain_new(model, info, new)
    assert found.per_sample["outside_training_range"].all()

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same distribution: no shift warning
        same = pipeline.read_new_data(info, tmp / "same.csv", model=model)
    assert not same.shift.shifted

    assert main(["evaluate", str(out), str(tmp / "batch2.csv")]) == 0
    assert "'gene_b'" in capsys.readouterr().err


def test_predict_from_matrix_and_sample_sheet(tmp_path):
    expected, sheet = _matrix_files(tmp_path, n=60)
    out = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(
            [
                "train",
                str(tmp_path / "matrix.csv"),
                "--labels",
                str(tmp_path / "samplesheet.csv"),
                "--target",
                "tumour",
                "--epochs",
                "2",
                "--quiet",
                "--out",
                str(out),
            ]
        )
    assert code == 0
    model, info = pipeline.load_run(out)
    new = pipeline.read_new_data(
        info, tmp_path / "matrix.csv", model=model, labels=tmp_path / "samplesheet.csv", need_target=True
    )
    assert sorted(new.ids) == sorted(expected.index)
    names = np.asarray(info["class_names"])[new.y]
    assert list(names) == sheet.loc[new.ids, "tumour"].tolist()
    assert (
        main(
            [
                "predict",
                str(out),
                str(tmp_path / "matrix.csv"),
                "--labels",
                str(tmp_path / "samplesheet.csv"),
                "--out",
                str(tmp_path / "p.csv"),
            ]
        )
        == 0
    )
    assert len(pd.read_csv(tmp_path / "p.csv")) == 60


def test_positive_class_chosen_on_the_command_line(tmp_path):
    from sklearn import metrics as skm

    frame = _table(120).drop(columns="patient")
    frame["status"] = np.where(
        frame.gene_a + 0.8 * np.random.default_rng(7).normal(size=120) > 0, "AMP", "UniProt"
    )
    path = tmp_path / "peptide_features.csv"
    frame.to_csv(path, index=False)
    data = pipeline.load_data(path, "status", positive="AMP")
    assert data.target_names == ["UniProt", "AMP"]
    assert (np.asarray(data.target_names)[data.y] == frame["status"].to_numpy()).all()
    out = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        argv = ["train", str(path), "--target", "status", "--positive", "AMP", "--epochs", "5", "--quiet"]
        assert main([*argv, "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    predictions = pd.read_csv(out / "predictions.csv")
    # ROC AUC is the same from either side; average precision is not: it must be that of AMP
    ap = skm.average_precision_score(predictions["true"] == "AMP", predictions["probability_AMP"])
    assert metrics["test"]["pr_auc"] == pytest.approx(ap, abs=1e-5)
    assert "AMP (chosen with --positive)" in (out / "report.html").read_text()
    with pytest.raises(pipeline.ConfigError, match="--positive 'amp' is not a class"):
        pipeline.load_data(path, "status", positive="amp")


def test_progress_time_left_accounts_for_early_stopping(monkeypatch):
    """Epoch 10 of 200, best val_loss at epoch 5, patience 20: training stops at epoch 25 unless val_loss
    improves, so the time left is a range from 15 epochs' worth to 190 epochs' worth."""
    import io

    from biograd.training import ProgressBar, callbacks

    clock = iter([100.0] + [110.0] * 10)  # start, then 10 s later: 1 s per epoch at epoch 10
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: next(clock))
    bar = ProgressBar(stream=io.StringIO(), every=1, patience=20)
    bar.params = {"epochs": 200}
    bar.on_train_begin()
    for epoch in range(1, 11):
        line = bar._line(epoch, {"loss": 1.0, "val_loss": 1.0 if epoch != 5 else 0.5})
    assert line.endswith("ETA 0:15-3:10 (early stopping)")


@pytest.fixture
def drawn(monkeypatch):
    """The matplotlib figures the report draws, kept instead of encoded."""
    from biograd.report import figures as figures_module

    figures = []
    monkeypatch.setattr(figures_module, "_png", lambda fig, alt: figures.append(fig) or "")
    return figures


def test_regression_importance_in_target_units(drawn):
    from biograd.report import figure_feature_ranking

    ranking = pd.DataFrame(
        {"feature": ["age", "bmi"], "mean_abs_attribution": [2.0, 1.0], "direction": [1, -1]}
    )
    figure_feature_ranking(ranking, None, units="units of disease_progression")
    assert drawn[0].axes[0].get_xlabel().endswith("(units of disease_progression)")
    assert "logit" not in drawn[0].axes[0].get_xlabel()


def test_many_classes_legends_outside_and_rare_classes_marked(drawn):
    from biograd.report import figure_roc_pr
    from biograd.viz.palette import line_style

    rng = np.random.default_rng(8)
    k = 10
    y = np.concatenate([np.repeat(np.arange(k - 1), 12), [k - 1, k - 1]])  # the last class: 2 test samples
    proba = rng.dirichlet(np.ones(k), size=len(y))
    names = [f"type{c}" for c in range(k)]
    figure_roc_pr(y, proba, names)
    roc = drawn[0].axes[0]
    legend = roc.get_legend()
    # beside the axes (anchored at the right edge), not inside over the curves
    assert legend._bbox_to_anchor is not None and legend._bbox_to_anchor.bounds[0] > roc.bbox.bounds[0]
    labels = [t.get_text() for t in legend.get_texts()]
    assert any(t.startswith("type9 (only 2 test samples)") for t in labels)
    styles = {(line.get_color(), str(line._unscaled_dash_pattern)) for line in roc.get_lines()[:k]}
    assert len(styles) == k  # no two classes drawn alike
    assert len({line_style(i)[:2] for i in range(20)}) == 20


def test_network_picture_names_inputs_and_scales_each_layer():
    """An output layer rescaled to target units (weights ~100) next to a hidden layer of ~0.1: with
    per-layer scales both layers' thickest line is equally thick (0.7 + 6 |w| / max |w| of its layer)."""
    import re

    from biograd import nn
    from biograd.viz.network import network

    model = nn.MLP([3, 2, 1])
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    layers[0].weight.data = np.array([[0.1, -0.05, 0.02], [0.03, 0.08, -0.1]], dtype=np.float32)
    layers[1].weight.data = np.array([[120.0, -60.0]], dtype=np.float32)
    svg = network(model, input_names=["BMI (kg/m²)", "<age>", "CD4"], per_layer_scale=True).svg
    assert "BMI (kg/m²)" in svg and "&lt;age&gt;" in svg and "<age>" not in svg

    def line_widths(svg: str) -> dict[str, list[float]]:
        widths: dict[str, list[float]] = {"1": [], "2": []}
        for tag in re.findall(r"<line[^>]*class=\"weight\"[^>]*>", svg):
            layer = re.search(r'data-layer="(\d)"', tag).group(1)
            widths[layer].append(float(re.search(r'stroke-width="([\d.]+)"', tag).group(1)))
        return widths

    widths = line_widths(svg)
    assert max(widths["1"]) == pytest.approx(6.7, abs=0.01) and max(widths["2"]) == pytest.approx(
        6.7, abs=0.01
    )
    assert "each layer its own scale" in svg
    shared = network(model).svg  # one scale: the hidden layer's lines all but vanish
    assert len(line_widths(shared)["1"]) == 6 and max(line_widths(shared)["1"]) < 0.8
