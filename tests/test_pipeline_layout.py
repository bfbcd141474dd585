"""The top floors' layout: imports point down (report and explain never reach into the pipeline), one
record for the data as read, one palette, and pictures that do not overflow on large logits."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import numpy as np
import pytest

import biograd
from biograd import nn, pipeline, viz
from biograd.bio import Dataset, load_table
from torch_oracle import needs_torch, torch

SRC = Path(biograd.__file__).parent


def _imports(path: Path) -> set[str]:
    """Every biograd module a file imports (at any depth: lazy imports inside functions count too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("biograd"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("biograd"))
    return found


def _module(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_layers_below_the_pipeline_never_import_it():
    below = [*(SRC / "report").glob("*.py"), *(SRC / "explain").glob("*.py"), *(SRC / "bio").glob("*.py")]
    below += list((SRC / "viz").glob("*.py"))
    for path in below:
        up = sorted(m for m in _imports(path) if m.startswith(("biograd.pipeline", "biograd.cli")))
        assert not up, f"{path.name} imports {up}"


def test_no_import_cycle_among_the_top_floors():
    files = [
        *(SRC / "report").glob("*.py"),
        *(SRC / "cli").glob("*.py"),
        *(SRC / "pipeline").glob("*.py"),
        *(SRC / "explain").glob("*.py"),
    ]
    names = {_module(p): p for p in files}
    graph = {m: {d for d in _imports(p) if d in names and d != m} for m, p in names.items()}
    # a package's __init__ re-exporting its own files is not a cycle through them
    for m in graph:
        graph[m] = {d for d in graph[m] if not (m.startswith(d + ".") and d in names)}
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for d in graph[m]:
            assert state.get(d) != 1, f"import cycle: {' -> '.join([*path, m, d])}"
            if d not in state:
                visit(d, [*path, m])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [])


def test_the_palette_tells_twenty_classes_apart():
    from biograd.viz.palette import COLORS, line_style

    okabe_ito = {"#0072B2", "#D55E00", "#009E73", "#000000", "#CC79A7", "#56B4E9", "#E69F00", "#F0E442"}
    styles = [line_style(i) for i in range(20)]
    assert {c for c, _, _ in styles} <= okabe_ito and len(set(COLORS)) == 8
    assert len({(c, str(d)) for c, d, _ in styles}) == 20  # color and dash together: every line differs
    for start in (0, 10):
        assert len({m for _, _, m in styles[start : start + 10]}) == 10  # ten shapes in a row for scatters


@needs_torch
def test_decision_boundary_does_not_overflow_on_large_logits():
    """Logits of +-1e5 (one output: sigmoid; three: softmax) drew NaN-free only with the stable forms;
    the old numpy 1 / (1 + exp(-z)) overflowed and warned."""
    x = np.array([[-1.0, -1.0], [1.0, 1.0], [-1.0, 1.0], [1.0, -1.0]])
    for n_out in (1, 3):
        biograd.manual_seed(0)
        model = nn.Linear(2, n_out)
        model.weight.data = (np.arange(2 * n_out, dtype=np.float64).reshape(n_out, 2) - 1.5) * 5e4
        model.weight.data = model.weight.data.astype(np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an overflow RuntimeWarning fails the test
            fig = viz.decision_boundary(model, x, np.array([0, 1, 0, 1]))
        assert fig.axes
    from biograd.ops import stable_softmax as _softmax

    logits = np.array([[1e4, -1e4, 0.0], [-800.0, 800.0, 799.0]])
    np.testing.assert_allclose(
        _softmax(logits), torch.softmax(torch.tensor(logits), dim=1).numpy(), rtol=1e-12
    )


def test_load_table_returns_the_one_data_record(tmp_path):
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"sample": [f"S{i:03d}" for i in range(40)], "geneA": rng.normal(size=40)})
    frame["tissue"] = np.where(rng.random(40) < 0.5, "liver", "lung")
    frame["disease"] = np.where(rng.random(40) < 0.3, "tumour", "healthy")
    path = tmp_path / "cells.csv"
    frame.to_csv(path, index=False)
    table = load_table(path, target="disease")
    assert isinstance(table, Dataset) and table.x is None and table.kind == "table"
    assert table.n_samples == 40 and table.n_features == 2 and table.id_column == "sample"
    assert table.class_counts() == frame["disease"].value_counts().to_dict()  # pandas counts: the oracle
    assert table.source == str(path) and table.input_format == "csv" and table.target_name == "disease"
    back = table.to_frame()
    assert back["disease"].tolist() == frame["disease"].tolist()
    np.testing.assert_allclose(back["geneA"], frame["geneA"], rtol=1e-12)  # CSV text keeps ~17 digits


def test_the_pipeline_reads_into_the_same_record_and_checks_the_task():
    data = pipeline.load_data(dataset="diabetes")
    assert isinstance(data, Dataset) and data.input_format == "dataset" and data.features.shape[1] == 10
    with pytest.raises(pipeline.ConfigError, match="--task classification"):
        pipeline.load_data(dataset="diabetes", task="classification")
    with pytest.raises(pipeline.ConfigError, match="--task classification"):
        pipeline.prepare(data, pipeline.TrainConfig(task="classification"))


def test_an_explanation_says_which_samples_it_used():
    import pandas as pd

    ranking = pd.DataFrame({"rank": [1, 2, 3], "feature": ["a", "b", "c"], "mean_abs_attribution": [3, 2, 1]})
    found = pipeline.Explanation(
        kind="table", per_sample=None, n_used=50, n_total=360, seed=3, ranking=ranking
    )
    assert found.sampled and found.used() == "a random sample of 50 of the 360 samples (seed 3)"
    assert found.direction_columns == [] and len(found.table()) == 3
    found.top = 2
    assert found.table()["feature"].tolist() == ["a", "b"]
    whole = pipeline.Explanation(kind="table", per_sample=None, n_used=1200, n_total=1200, ranking=ranking)
    assert not whole.sampled and whole.used("test samples") == "all 1,200 test samples"


def _module_level_imports(path: Path, modules: set[str]) -> set[str]:
    """The biograd modules a file imports when it is itself imported (not inside functions, not for
    type checkers only): the imports that can form a cycle."""
    found: set[str] = set()

    def walk(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, (ast.If, ast.Try)):
                walk(node.body)
                walk(node.orelse)
                for handler in getattr(node, "handlers", []):
                    walk(handler.body)
                walk(getattr(node, "finalbody", []))
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("biograd"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    found.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name in modules)

    walk(ast.parse(path.read_text(encoding="utf-8")).body)
    return found


def test_no_import_cycle_anywhere_in_the_package():
    """Every module's imports point one way (the engine included: tensor_functions builds on tensor,
    never the reverse). A package's __init__ gathering its own files, and a file importing its own
    package, are how Python packages work, not cycles."""
    files = {_module(p): p for p in SRC.rglob("*.py")}
    graph = {}
    for m, path in files.items():
        deps = {d for d in _module_level_imports(path, set(files)) if d != m and not m.startswith(d + ".")}
        if path.name == "__init__.py":
            deps = set() if m == "biograd" else {d for d in deps if not d.startswith(m + ".")}
        graph[m] = deps
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for d in sorted(graph[m]):
            assert state.get(d) != 1, f"import cycle: {' -> '.join([*path, m, d])}"
            if d not in state:
                visit(d, [*path, m])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [])
