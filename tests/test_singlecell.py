"""Single-cell .h5ad reading: a tiny AnnData written here, read back, compared with what was written."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from biograd.bio import DataError, read_h5ad

anndata = pytest.importorskip("anndata")
sparse = pytest.importorskip("scipy.sparse")


def write_h5ad(path, counts: np.ndarray, sparse_x: bool = False):
    n_cells, n_genes = counts.shape
    obs = pd.DataFrame(
        {
            "cell_type": pd.Categorical(["T cell", "B cell", "NK cell"] * (n_cells // 3)),
            "age": np.linspace(20, 80, n_cells),
        },
        index=[f"cell{i}" for i in range(n_cells)],
    )
    var = pd.DataFrame(index=[f"GENE{j}" for j in range(n_genes)])
    normalized = np.log1p(counts / counts.sum(axis=1, keepdims=True) * 1e4)
    x = sparse.csr_matrix(counts) if sparse_x else counts
    adata = anndata.AnnData(X=x, obs=obs, var=var, layers={"lognorm": normalized})
    adata.write_h5ad(path)
    return normalized


@pytest.fixture
def counts():
    return (
        np.random.default_rng(0).poisson(8, size=(12, 5)).astype(np.float32)
        + np.eye(12, 5, dtype=np.float32) * 50
    )


@pytest.mark.parametrize("sparse_x", [False, True])
def test_read_h5ad_counts_warn_and_match(tmp_path, counts, sparse_x):
    path = tmp_path / "cells.h5ad"
    write_h5ad(path, counts, sparse_x)
    with pytest.warns(UserWarning, match=r"look like raw counts"):
        data = read_h5ad(path, label="cell_type")
    np.testing.assert_array_equal(data.x, counts)
    assert data.x.dtype == np.float32
    assert data.feature_names == [f"GENE{j}" for j in range(5)]
    assert data.ids[0] == "cell0" and data.target_names == ["B cell", "NK cell", "T cell"]
    assert data.y[:3].tolist() == [2, 0, 1] and data.task == "classification"


def test_many_numbered_clusters_are_still_classes(tmp_path):
    counts = np.random.default_rng(1).random((24, 3)).astype(np.float32)
    clusters = pd.Categorical([str(i % 12) for i in range(24)])
    obs = pd.DataFrame({"leiden": clusters}, index=[f"c{i}" for i in range(24)])
    anndata.AnnData(X=counts, obs=obs).write_h5ad(tmp_path / "clusters.h5ad")
    data = read_h5ad(tmp_path / "clusters.h5ad", label="leiden")
    assert data.task == "classification" and len(data.target_names) == 12


def test_read_h5ad_layer_is_not_flagged(tmp_path, counts):
    path = tmp_path / "cells.h5ad"
    normalized = write_h5ad(path, counts)
    import warnings

    with warnings.catch_warnings():
        # biograd's own warnings are UserWarnings; the libraries' deprecation notices (anndata 0.13 on
        # pandas 3 warns about pandas' future.infer_string option) are not what this test is about
        warnings.simplefilter("error", UserWarning)
        data = read_h5ad(path, label="age", layer="lognorm")
    np.testing.assert_allclose(data.x, normalized, rtol=1e-6)
    assert data.task == "regression"
    assert read_h5ad(path, layer="lognorm").y is None


def test_read_h5ad_errors(tmp_path, counts):
    path = tmp_path / "cells.h5ad"
    write_h5ad(path, counts)
    with (
        pytest.raises(DataError, match=r"no obs column 'celltype'. Did you mean 'cell_type'"),
        pytest.warns(UserWarning),
    ):
        read_h5ad(path, label="celltype")
    with pytest.raises(DataError, match=r"no layer 'raw'.*'lognorm'"):
        read_h5ad(path, label="cell_type", layer="raw")
    with pytest.raises(FileNotFoundError):
        read_h5ad(tmp_path / "nope.h5ad")
    bad = tmp_path / "bad.h5ad"
    bad.write_text("not hdf5")
    with pytest.raises(DataError, match=r"could not be read as an .h5ad"):
        read_h5ad(bad)


def test_missing_anndata_gives_the_pip_command(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "anndata":
            raise ImportError("No module named 'anndata'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pip install 'biograd\[sc\]'"):
        read_h5ad("whatever.h5ad")


@pytest.mark.parametrize("categorical", [True, False])
def test_cells_without_a_label_are_dropped_with_a_warning(tmp_path, categorical):
    rng = np.random.default_rng(2)
    x = rng.random((9, 4)).astype(np.float32)
    kinds = ["T cell", None, "B cell", "T cell", None, "B cell", "NK cell", "T cell", None]
    labels = pd.Categorical(kinds) if categorical else pd.Series(kinds, dtype=object).to_numpy()
    obs = pd.DataFrame({"cell_type": labels}, index=[f"cell{i}" for i in range(9)])
    anndata.AnnData(X=x, obs=obs).write_h5ad(tmp_path / "partial.h5ad")
    with pytest.warns(
        UserWarning, match=r"3 of 9 cells have no value in the obs column 'cell_type'.*dropped"
    ):
        data = read_h5ad(tmp_path / "partial.h5ad", label="cell_type")
    kept = [i for i, k in enumerate(kinds) if k is not None]
    assert data.ids == [f"cell{i}" for i in kept]
    np.testing.assert_array_equal(data.x, x[kept])
    assert [data.target_names[c] for c in data.y] == [kinds[i] for i in kept]
    assert read_h5ad(tmp_path / "partial.h5ad").n_samples == 9  # no label asked for: every cell stays


def test_all_cells_without_a_label_is_an_error(tmp_path):
    obs = pd.DataFrame({"age": [np.nan] * 4}, index=[f"c{i}" for i in range(4)])
    anndata.AnnData(X=np.ones((4, 2), dtype=np.float32), obs=obs).write_h5ad(tmp_path / "none.h5ad")
    with pytest.raises(DataError, match=r"obs column 'age'.*is empty \(all 4 cells missing\)"):
        read_h5ad(tmp_path / "none.h5ad", label="age")
