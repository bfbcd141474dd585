"""Every tutorial in docs/tutorials runs top to bottom as a notebook, and its final checks pass.

Each ``NN_*.py`` file (jupytext percent format) is converted with jupytext and executed with nbclient in a
fresh Python kernel, one test per tutorial (so pytest-xdist spreads them over the cores). A failing cell
fails the test with the cell's error; the last cell of every tutorial holds its ``assert`` checks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

TUTORIALS = Path(__file__).resolve().parents[1] / "docs" / "tutorials"
FILES = sorted(TUTORIALS.glob("[0-9][0-9]_*.py"))


def test_the_ten_tutorials_are_there_in_order():
    assert [f.name[:2] for f in FILES] == [f"{i:02d}" for i in range(1, 11)]
    readme = (TUTORIALS / "README.md").read_text(encoding="utf-8")
    positions = [readme.find(f.name) for f in FILES]
    assert -1 not in positions, "docs/tutorials/README.md must list every tutorial"
    assert positions == sorted(positions), "docs/tutorials/README.md must list the tutorials in order"


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_tutorial_runs_and_its_checks_pass(path, tmp_path, monkeypatch):
    notebook = jupytext.read(path)
    assert notebook.cells[-1].cell_type == "code" and "assert" in notebook.cells[-1].source, (
        f"{path.name} must end with a code cell of checks (assert ...)"
    )
    # No windows; one BLAS thread per kernel: small matrices on a busy 2-core machine run many times
    # faster single-threaded, and pytest-xdist already runs one kernel per core.
    monkeypatch.setenv("MPLBACKEND", "Agg")
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(var, "1")
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},  # files a tutorial writes land in tmp_path
    )
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
