"""Using a committee of networks on new data: predict with a spread and an uncertain flag, evaluate with a
count of uncertain samples, and old single-network run directories unchanged.

Oracles: numpy recomputation of the members' probabilities and their standard deviation, and committees
built by hand whose members disagree on samples known in advance (the sign of one gene against another).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import biograd
from biograd import nn, pipeline
from biograd.bio.tabular import Preprocessor
from biograd.cli import main
from biograd.nn.committee import MAX_SPREAD_SD, MIN_AGREEMENT


def frame_of(n: int = 40, seed: int = 0, task: str = "classification") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"sample": [f"S{i:02d}" for i in range(n)]})
    frame["gene_a"] = rng.normal(size=n)
    frame["gene_b"] = rng.normal(size=n)
    if task == "classification":
        frame["status"] = np.where(frame.gene_a > 0, "tumour", "healthy")
    else:
        frame["age"] = 50 + 10 * frame.gene_a + rng.normal(size=n)
    return frame


def write_run(path: Path, model: nn.Module, frame: pd.DataFrame, target: str) -> np.ndarray:
    """A run directory as biograd train writes it: the model with the pipeline's metadata (biograd.save).
    Returns the network inputs of ``frame`` (the saved preprocessing applied)."""
    prep = Preprocessor(id_column="sample").fit(frame.drop(columns=[target]))
    classification = frame[target].dtype.kind not in "fi"
    names = sorted(frame[target].unique().tolist()) if classification else []
    task = "classification" if classification else "regression"
    y = frame[target].to_numpy()
    metadata = {
        "pipeline": pipeline.PIPELINE_FORMAT,
        "task": task,
        "feature_names": prep.feature_names,
        "class_names": names or None,
        "preprocessing": {
            "kind": "table",
            "input_format": "csv",
            "table": prep.to_config(),
            "id_column": "sample",
            "layer": None,
            "target": target,
            "task": task,
            "class_names": names,
            "y_scale": None if classification else [float(y.mean()), float(y.std())],
        },
        "architecture_text": "hand-made",
        "data_name": "test",
        "kernel_size": None,
    }
    biograd.save(model, path, metadata=metadata)
    return prep.transform(frame)


def linear(weights, bias=0.0) -> nn.Module:
    layer = nn.Linear(len(weights[0]), len(weights))
    layer.weight.data = np.asarray(weights, dtype=np.float32)
    layer.bias.data = np.full(len(weights), bias, dtype=np.float32)
    return nn.Sequential(layer)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def disagreeing_committee() -> nn.Committee:
    """Five one-logit members: three say tumour when gene_a > 0, two when gene_b > 0. They all agree where
    the two genes have the same sign, and split 3:2 where they do not."""
    members = [linear([[4.0, 0.0]]) for _ in range(3)] + [linear([[0.0, 4.0]]) for _ in range(2)]
    return nn.Committee(members, combine="sigmoid")


def test_predict_spread_and_uncertain_equal_numpy_on_samples_known_to_split(tmp_path, capsys):
    frame = frame_of()
    run = tmp_path / "run"
    x = write_run(run, disagreeing_committee(), frame, "status")
    csv = tmp_path / "new.csv"
    frame.to_csv(csv, index=False)
    out = tmp_path / "p.csv"
    assert main(["predict", str(run), str(csv), "--out", str(out)]) == 0
    got = pd.read_csv(out)

    p1 = np.stack([sigmoid(4 * x[:, 0])] * 3 + [sigmoid(4 * x[:, 1])] * 2)  # members x samples: P(tumour)
    mean = p1.mean(axis=0)
    chosen = np.where(mean > 0.5, p1, 1 - p1)  # probability of the committee's class
    np.testing.assert_allclose(got.probability_tumour, mean, atol=2e-6)
    np.testing.assert_allclose(got.spread, chosen.std(axis=0), atol=2e-6)
    split = np.sign(x[:, 0]) != np.sign(x[:, 1])  # known by construction
    assert split.any() and (~split).any()
    assert list(got.uncertain) == list(split)
    assert f"{int(split.sum())} sample(s) marked uncertain" in capsys.readouterr().out
    assert list(got.predicted) == list(np.where(mean > 0.5, "tumour", "healthy"))


def test_evaluate_counts_the_uncertain_samples(tmp_path, capsys):
    frame = frame_of(seed=1)
    run = tmp_path / "run"
    x = write_run(run, disagreeing_committee(), frame, "status")
    csv = tmp_path / "new.csv"
    frame.to_csv(csv, index=False)
    assert main(["evaluate", str(run), str(csv)]) == 0
    text = capsys.readouterr().out
    line = next(line for line in text.splitlines() if line.strip().startswith("uncertain_samples"))
    n_split = int((np.sign(x[:, 0]) != np.sign(x[:, 1])).sum())
    assert int(line.split()[-1]) == n_split
    assert f"({n_split} of {len(x)} samples are uncertain" in text


def test_softmax_committee_agreement_threshold_and_spread_against_numpy(tmp_path):
    rng = np.random.default_rng(3)
    members = [linear(rng.normal(size=(3, 2)) * 2) for _ in range(6)]
    frame = frame_of(n=60, seed=2)
    frame["status"] = np.array(["a", "b", "c"])[np.arange(60) % 3]
    run = tmp_path / "run"
    x = write_run(run, nn.Committee(members, combine="softmax"), frame, "status")
    model, info = pipeline.load_run(run)
    assert isinstance(model, nn.Committee) and len(model.members) == 6
    table = pipeline.predict_table(model, info, pipeline.NewData(x=x, ids=list(frame["sample"]), y=None))

    logits = np.stack([x @ m[0].weight.data.T.astype(np.float64) + m[0].bias.data for m in members])
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    mean = probs.mean(0)
    chosen = mean.argmax(1)
    rows = np.arange(len(x))
    agreement = (probs.argmax(-1) == chosen).mean(0)
    np.testing.assert_allclose(table.spread, probs[:, rows, chosen].std(0), atol=2e-6)
    assert list(table.uncertain) == list(agreement < MIN_AGREEMENT)
    assert 0 < int(table.uncertain.sum()) < len(x)  # the threshold separates something here


def test_regression_spread_in_target_units_and_uncertain_beyond_a_quarter_training_sd(tmp_path):
    frame = frame_of(n=50, seed=4, task="regression")
    sd = float(frame.age.std(ddof=0))
    # two members agree on gene_a's effect; one of them also reads gene_b strongly: they disagree in
    # proportion to |gene_b|
    members = [linear([[10.0, 0.0]], bias=50.0), linear([[10.0, 12.0]], bias=50.0)]
    run = tmp_path / "run"
    x = write_run(run, nn.Committee(members, combine="mean"), frame, "age")
    csv = tmp_path / "new.csv"
    frame.to_csv(csv, index=False)
    out = tmp_path / "p.csv"
    assert main(["predict", str(run), str(csv), "--out", str(out)]) == 0
    got = pd.read_csv(out)
    preds = np.stack([50 + 10 * x[:, 0], 50 + 10 * x[:, 0] + 12 * x[:, 1]])
    np.testing.assert_allclose(got.predicted, preds.mean(0), rtol=1e-5)
    np.testing.assert_allclose(got.spread, preds.std(0), atol=1e-4)  # = 6 |gene_b (standardized)|
    assert list(got.uncertain) == list(6 * np.abs(x[:, 1]) > MAX_SPREAD_SD * sd)
    assert 0 < int(got.uncertain.sum()) < len(x)


def test_an_old_single_network_run_directory_predicts_as_before(tmp_path):
    """A run directory written by the single-network save path: no spread or uncertain column, the
    probabilities those of the network (numpy softmax of its saved weights)."""
    biograd.manual_seed(0)
    net = nn.MLP([2, 4, 2])
    frame = frame_of(seed=5)
    run = tmp_path / "old"
    x = write_run(run, net, frame, "status")
    csv = tmp_path / "new.csv"
    frame.to_csv(csv, index=False)
    out = tmp_path / "p.csv"
    assert main(["predict", str(run), str(csv), "--out", str(out)]) == 0
    got = pd.read_csv(out)
    assert list(got.columns) == ["id", "true", "predicted", "probability_healthy", "probability_tumour"]
    w1, b1, w2, b2 = (p.data.astype(np.float64) for p in net.parameters())
    z = np.maximum(x @ w1.T + b1, 0) @ w2.T + b2
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(got[["probability_healthy", "probability_tumour"]], p, atol=2e-6)
    model, info = pipeline.load_run(run)
    metrics = pipeline.evaluate_new(model, info, pipeline.read_new_data(info, csv))
    assert "uncertain_samples" not in metrics


def test_uncertain_needs_the_target_sd_for_regression():
    with pytest.raises(ValueError, match="target_sd"):
        nn.committee.uncertain({"spread": np.ones(3)})


# --------------------------------------------------------------------------------------------------
# Explaining a committee: each member explained, averaged, with each feature's rank stability
# --------------------------------------------------------------------------------------------------


def ranked_members(n_features: int = 30) -> list[nn.Module]:
    """Five linear members (one output) that agree on features 0 and 2..20 and disagree on feature 1:
    only member 0 weighs it (10, the largest weight of all), the others ignore it."""
    common = np.zeros(n_features)
    common[0] = 3.0
    common[2:21] = 1.0 + np.arange(2, 21) / 100
    common[21:] = 0.01
    members = []
    for m in range(5):
        w = common.copy()
        w[1] = 10.0 if m == 0 else 0.0
        members.append(linear([w]))
    return members


def test_committee_attributions_are_the_members_average_and_unstable_features_are_flagged():
    from biograd.explain import explain_table

    rng = np.random.default_rng(0)
    x = rng.choice([-1.0, 1.0], size=(40, 30)).astype(np.float32)  # |x| = 1: a feature's rank is |w|
    members = ranked_members()
    names = [f"g{j}" for j in range(30)]
    found = explain_table(nn.Committee(members, combine="mean"), x, names, task="regression")

    weights = np.stack([m[0].weight.data[0] for m in members]).astype(np.float64)
    # integrated gradients of a linear network from baseline 0 are x * w exactly; averaged over members
    np.testing.assert_allclose(found.per_sample[names].to_numpy(), x * weights.mean(0), rtol=1e-5)
    stability = dict(zip(found.ranking.feature, found.ranking.stability, strict=True))
    # by construction: member 0's top 20 is {1, 0, 3..20}, the others' {0, 2..20}
    want = {"g0": 1.0, "g1": 0.2, "g2": 0.8, **{f"g{j}": 1.0 for j in range(3, 21)}}
    want.update({f"g{j}": 0.0 for j in range(21, 30)})
    assert stability == pytest.approx(want)
    assert found.members == 5
    assert list(found.ranking.feature[:2]) == ["g0", "g1"]  # g1 ranks second on the average ...
    assert found.unstable == ["g1", *[f"g{j}" for j in range(21, 30)]]  # ... but is not a finding
    assert found.findings(3) == ["g0", "g20", "g19"]


def test_a_single_network_explanation_has_no_stability_column():
    from biograd.explain import explain_table

    x = np.random.default_rng(1).normal(size=(10, 30)).astype(np.float32)
    found = explain_table(ranked_members()[0], x, [f"g{j}" for j in range(30)], task="regression")
    assert "stability" not in found.ranking.columns
    assert found.members == 1 and found.unstable == []


def test_cli_explain_and_report_say_unstable_not_a_finding(tmp_path, capsys):
    from types import SimpleNamespace

    from biograd.report.importance import _table_importance

    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"sample": [f"S{i}" for i in range(40)]})
    for j in range(30):
        frame[f"g{j}"] = rng.normal(size=40)
    frame["age"] = rng.normal(size=40)
    run = tmp_path / "run"
    write_run(run, nn.Committee(ranked_members(), combine="mean"), frame, "age")
    csv = tmp_path / "new.csv"
    frame.to_csv(csv, index=False)
    ranking_csv = tmp_path / "ranking.csv"
    assert main(["explain", str(run), str(csv), "--top", "5", "--out", str(ranking_csv)]) == 0
    text = capsys.readouterr().out
    assert "a committee of 5 networks" in text
    rows = [line for line in text.splitlines() if line.split() and line.split()[0].isdigit()]
    assert len(rows) == 5
    flagged = [line for line in rows if line.rstrip().endswith("unstable - not a finding")]
    assert len(flagged) == 1 and " g1 " in flagged[0]  # the one feature only member 0 uses
    assert pd.read_csv(ranking_csv).set_index("feature").stability["g1"] == pytest.approx(0.2)

    model, info = pipeline.load_run(run)
    found = pipeline.explain_new(model, info, pipeline.read_new_data(info, csv))
    result = SimpleNamespace(
        prepared=SimpleNamespace(data=SimpleNamespace(target_name="age", task="regression"))
    )
    html = _table_importance(result, found)
    assert html.count('<tr class="unstable">') == 1  # g1 is in the report's top 20; g21.. are not
    assert "<b>unstable - not a finding</b>" in html and "committee of 5 networks" in html


def test_sequence_committee_positions_and_mutagenesis_are_the_members_average():
    """Linear members on one-hot sequences: a position's integrated gradient is the weight of the base
    present there, a substitution changes the score by w[new] - w[old]; the committee averages both."""
    from biograd.bio.sequences import one_hot
    from biograd.explain import explain_sequences

    rng = np.random.default_rng(3)
    seqs = ["".join(rng.choice(list("ACGT"), size=8)) for _ in range(6)]
    x = np.asarray(one_hot(seqs, alphabet="dna", length=8), dtype=np.float32)
    members = []
    for _ in range(3):
        layer = nn.Linear(32, 1)
        layer.weight.data = rng.normal(size=(1, 32)).astype(np.float32)
        members.append(nn.Sequential(nn.Flatten(), layer))
    found = explain_sequences(
        nn.Committee(members, combine="mean"), x, [f"s{i}" for i in range(6)], seqs, "regression", window=3
    )
    w = np.stack([m[1].weight.data.reshape(4, 8) for m in members]).astype(np.float64).mean(0)
    np.testing.assert_allclose(found.positions, (x * w).sum(axis=1), rtol=1e-5, atol=1e-6)
    top = found.groups[0].top[0]
    present = (x[top] * w).sum(axis=0)
    np.testing.assert_allclose(found.groups[0].ism, w - present, rtol=1e-5, atol=1e-6)
    assert found.members == 3


# --------------------------------------------------------------------------------------------------
# A committee handed to PyTorch and back
# --------------------------------------------------------------------------------------------------


def scaled_members(width: int, n: int = 3) -> list[nn.Module]:
    """Members as a training fold builds them: their own scaling and gene selection, then an MLP."""
    rng = np.random.default_rng(width)
    members = []
    for m in range(n):
        biograd.manual_seed(m)
        keep = sorted(rng.choice(6, size=4, replace=False).tolist())
        members.append(
            nn.Sequential(
                nn.Standardize(rng.normal(size=6), rng.uniform(0.5, 2.0, size=6)),
                nn.SelectFeatures(keep, 6),
                nn.Linear(4, 5),
                nn.Tanh(),
                nn.Linear(5, width),
            )
        )
    return members


@pytest.mark.parametrize("combine,width", [("softmax", 3), ("sigmoid", 1), ("mean", 2)])
def test_to_torch_committee_averages_like_biograd_and_comes_back(combine, width):
    torch = pytest.importorskip("torch")
    from biograd.interop import from_torch, to_torch
    from biograd.training import predict_proba

    committee = nn.Committee(scaled_members(width), combine=combine).eval()
    x = np.random.default_rng(9).normal(size=(7, 6)).astype(np.float32)
    torch_committee = to_torch(committee)
    xt = torch.tensor(x, requires_grad=True)
    got = torch_committee(xt)
    xb = biograd.tensor(x, requires_grad=True)
    want = committee(xb)
    np.testing.assert_allclose(got.detach().numpy(), want.data, rtol=1e-5, atol=1e-6)
    upstream = np.random.default_rng(1).normal(size=tuple(got.shape)).astype(np.float32)
    (got * torch.tensor(upstream)).sum().backward()
    (want * biograd.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), xb.grad, rtol=1e-4, atol=1e-6)
    if combine == "softmax":  # the torch output read as logits gives biograd's averaged probabilities
        probs = torch.softmax(got, dim=-1).detach().numpy()
        np.testing.assert_allclose(probs, predict_proba(committee, x), rtol=1e-5, atol=1e-6)
    assert set(torch_committee.state_dict()) == set(committee.state_dict())
    for member, torch_member in zip(committee.members, torch_committee.members, strict=True):
        np.testing.assert_allclose(
            torch_member(torch.tensor(x)).detach().numpy(),
            member(biograd.tensor(x)).data,
            rtol=1e-5,
            atol=1e-6,
        )
    back = from_torch(torch_committee)
    assert isinstance(back, nn.Committee) and back.combine == combine and len(back.members) == 3
    np.testing.assert_allclose(back(biograd.tensor(x)).data, want.data, rtol=1e-6, atol=1e-7)


def test_a_saved_committee_loads_as_a_module_that_predicts_and_converts(tmp_path):
    torch = pytest.importorskip("torch")
    from biograd.interop import to_torch

    committee = nn.Committee(scaled_members(3), combine="softmax")
    biograd.save(committee, tmp_path / "committee")
    loaded = biograd.load(tmp_path / "committee")
    assert isinstance(loaded, nn.Committee)
    x = np.random.default_rng(2).normal(size=(5, 6)).astype(np.float32)
    np.testing.assert_allclose(
        biograd.predict_proba(loaded, x), biograd.predict_proba(committee, x), atol=1e-7
    )
    np.testing.assert_allclose(
        to_torch(loaded)(torch.tensor(x)).detach().numpy(), committee(biograd.tensor(x)).data, atol=1e-6
    )
    # attributions of the committee's own output: integrated gradients add up to score(x) - score(0)
    from biograd import explain

    x64 = x.astype(np.float64)
    loaded.to(np.float64)
    attr = explain.integrated_gradients(loaded, x64, steps=400, target=np.zeros(5, np.int64))
    scores = explain.score(loaded, x64, target=np.zeros(5, np.int64))
    base = explain.score(loaded, np.zeros_like(x64), target=np.zeros(5, np.int64))
    np.testing.assert_allclose(attr.sum(axis=1), scores - base, atol=1e-4)


# --------------------------------------------------------------------------------------------------
# Drawing a committee: one member, and the picture says which
# --------------------------------------------------------------------------------------------------


def test_viz_network_draws_one_member_of_a_committee_and_says_so():
    import xml.etree.ElementTree as ET

    from biograd import viz

    members = scaled_members(3)
    committee = nn.Committee(members)
    x = np.random.default_rng(4).normal(size=6)
    pic = viz.network(committee, x=x, show="activations", member=1)
    root = ET.fromstring(pic.svg)
    svg = "{http://www.w3.org/2000/svg}"
    text = " ".join("".join(t.itertext()) for t in root.iter(f"{svg}text"))
    assert "Member 2 of a committee of 3 networks" in text
    circles = list(root.iter(f"{svg}circle"))
    inputs = [c for c in circles if "input-node" in (c.get("class") or "").split()]
    neurons = [c for c in circles if "neuron" in (c.get("class") or "").split()]
    assert len(inputs) == 4  # the 4 genes member 1 keeps, after its own scaling
    # oracle: the member's layers by hand in numpy, from the raw 6-feature sample
    member = members[1]
    scaled = (x - member[0].shift) / member[0].scale
    kept = scaled[member[1].indices]
    hidden = np.tanh(member[2].weight.data.astype(np.float64) @ kept + member[2].bias.data)
    out = member[4].weight.data.astype(np.float64) @ hidden + member[4].bias.data
    got = [float(c.get("data-activation")) for c in neurons]
    np.testing.assert_allclose(got, np.concatenate([hidden, out]), rtol=1e-5, atol=1e-6)
    from biograd.viz.network import layer_chain

    chain = layer_chain(committee, "6 features")
    assert "member 1 of a committee of 3" in chain.svg
    with pytest.raises(ValueError, match="member"):
        viz.network(committee, member=3)


def test_the_report_draws_a_committee_member_neuron_by_neuron():
    from types import SimpleNamespace

    from biograd.report import figure_network

    committee = nn.Committee(scaled_members(3))
    prepared = SimpleNamespace(
        model=committee, x=np.zeros((4, 6), np.float32), feature_names=[f"g{j}" for j in range(6)]
    )
    html = figure_network(prepared)
    assert "Member 1 of a committee of 3 networks" in html and 'class="neuron"' in html
