"""Single-cell data: reading AnnData ``.h5ad`` files (scanpy's format) into a Dataset.

Needs the optional extra: ``pip install 'biograd[sc]'`` (it installs anndata).
"""

from __future__ import annotations

import difflib
import warnings
from collections import Counter
from os import PathLike
from pathlib import Path

import numpy as np

from biograd.bio.dataset import Dataset
from biograd.bio.errors import DataError

#: A matrix of non-negative whole numbers whose largest value exceeds this looks like raw UMI counts.
RAW_COUNT_MAX = 20


def _import_anndata():
    try:
        import anndata
    except ImportError:
        raise ImportError(
            "Reading .h5ad files needs the anndata package, which is not installed. "
            "Install it with: pip install 'biograd[sc]'  (or: pip install anndata)"
        ) from None
    return anndata


def looks_like_raw_counts(x: np.ndarray) -> bool:
    """True when every value is a non-negative whole number and the largest exceeds RAW_COUNT_MAX:
    unnormalized counts (log-normalized data has fractions; scaled data has negatives)."""
    values = x.data if hasattr(x, "data") and not isinstance(x, np.ndarray) else np.asarray(x)
    values = np.asarray(values)
    if values.size == 0:
        return False
    return bool(values.min() >= 0 and values.max() > RAW_COUNT_MAX and np.all(values == np.round(values)))


#: The largest dense cells x genes float32 matrix built from an .h5ad file: 2 GiB (e.g. 25,000 cells x
#: 20,000 genes).
MAX_DENSE_BYTES = 2 * 1024**3


def _read_within_bounds(anndata, path: Path, layer: str | None):
    """Open the file without loading its matrices (``backed="r"``), check the layer exists and that the
    dense matrix would fit MAX_DENSE_BYTES, then load it. Any failure of h5py or anndata on a damaged or
    foreign file is a DataError naming the file."""
    from biograd.io.files import size_text

    def unreadable(err: BaseException) -> DataError:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return DataError(f"{str(path)!r} could not be read as an .h5ad file: {first}")

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not unique.*")  # said below, in our words
        try:
            backed = anndata.read_h5ad(path, backed="r")
        except Exception as err:  # h5py raises OSError, anndata several others
            raise unreadable(err) from None
        try:
            n_cells, n_genes = (int(n) for n in backed.shape)
            layers = list(backed.layers.keys())
        except Exception as err:
            backed.file.close()
            raise unreadable(err) from None
        if layer is not None and layer != "raw" and layer not in layers:
            has_raw = getattr(backed, "raw", None) is not None
            backed.file.close()
            available = ", ".join(map(repr, layers)) or "none"
            raw = " and a .raw matrix (--layer raw)" if has_raw else ""
            raise DataError(f"{str(path)!r} has no layer {layer!r}; its layers are: {available}{raw}.")
        n_bytes = n_cells * n_genes * 4
        if n_bytes > MAX_DENSE_BYTES:
            backed.file.close()
            raise DataError(
                f"{str(path)!r} holds {n_cells:,} cells x {n_genes:,} genes: {size_text(n_bytes)} as a dense "
                f"float32 matrix, more than the {size_text(MAX_DENSE_BYTES)} allowed. Select highly "
                "variable genes or subsample cells first (e.g. with scanpy), or raise "
                "biograd.bio.singlecell.MAX_DENSE_BYTES."
            )
        try:
            return backed.to_memory()
        except Exception as err:
            raise unreadable(err) from None
        finally:
            backed.file.close()


def read_h5ad(
    path: str | PathLike,
    label: str | None = None,
    layer: str | None = None,
    task: str = "auto",
    merge_labels: bool = False,
) -> Dataset:
    """Read cells x genes from an ``.h5ad`` file.

    Args:
        path: the .h5ad file.
        label: the ``obs`` column to predict (cell type, condition, ...). None: no labels (prediction).
        layer: take the values from ``adata.layers[layer]`` instead of ``adata.X``.
        task: "classification", "regression" or "auto".
        merge_labels: labels that differ only by case or surrounding spaces are one class; without it
            they are warned about.

    Returns a Dataset with x float32 (cells, genes) (sparse matrices are made dense), gene names
    (``var_names``) as feature names and cell barcodes (``obs_names``) as ids. Cells without a value in
    the ``label`` column are dropped with a warning (as rows without a target in a table). Warns when the
    values look like raw counts, which should be normalized (e.g. total-count normalize + log1p) before
    training. The dense matrix is checked against MAX_DENSE_BYTES before it is built.
    """
    anndata = _import_anndata()
    from biograd.bio.targets import check_label_variants, encode_target

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"h5ad file {str(path)!r} not found. Check the path.")
    if not path.is_file():
        raise DataError(f"{str(path)!r} is not a regular file (a folder, device or pipe); expected .h5ad.")
    with warnings.catch_warnings(record=True) as held:  # anndata can warn dozens of times per file
        warnings.simplefilter("always")
        adata = _read_within_bounds(anndata, path, layer)
    if held:
        kinds = sorted({w.category.__name__ for w in held})
        first = str(held[0].message).strip().splitlines()[0][:200]
        warnings.warn(
            f"anndata warned {len(held)} time(s) while reading {path.name!r} ({', '.join(kinds)}); "
            f"the first: {first}",
            stacklevel=2,
        )

    var_names = adata.var_names
    if layer is None:
        matrix, source = adata.X, "X"
    elif layer == "raw" and "raw" not in adata.layers:
        if adata.raw is None:
            available = ", ".join(map(repr, adata.layers.keys())) or "none"
            raise DataError(
                f"{str(path)!r} has no layer 'raw' and no .raw matrix; its layers are: {available}."
            )
        matrix, source, var_names = adata.raw.X, ".raw", adata.raw.var_names
    else:
        matrix, source = adata.layers[layer], f"layer {layer!r}"
    if matrix is None:
        raise DataError(f"{str(path)!r} has no expression matrix in X; pass a layer.")
    if looks_like_raw_counts(matrix):
        warnings.warn(
            f"The values in {source} look like raw counts (whole numbers up to {float(matrix.max()):g}). "
            "Networks train better on normalized data: normalize per cell and log1p, or choose a "
            "normalized layer (--layer).",
            stacklevel=2,
        )
    x = matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)
    x = np.asarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        raise DataError(
            f"{source} of {str(path)!r} contains {int((~np.isfinite(x)).sum())} NaN or inf values."
        )

    cell_ids = [str(c) for c in adata.obs_names]
    repeated = len(cell_ids) - len(set(cell_ids))
    if repeated:
        examples = [c for c, n in Counter(cell_ids).items() if n > 1][:3]
        warnings.warn(
            f"{str(path)!r}: {repeated} cell barcode(s) repeat ({', '.join(map(repr, examples))}); "
            "predictions for them cannot be told apart (anndata's obs_names_make_unique() renames them).",
            stacklevel=2,
        )
    y, target_names, found_task = None, [], "classification" if task == "auto" else task
    if label is not None:
        if label not in adata.obs.columns:
            columns = [str(c) for c in adata.obs.columns]
            close = difflib.get_close_matches(label, columns, n=3, cutoff=0.5)
            hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise DataError(
                f"{str(path)!r} has no obs column {label!r}.{hint} "
                f"obs columns: {', '.join(map(repr, columns))}."
            )
        values = adata.obs[label]
        missing = values.isna().to_numpy()
        if missing.all():
            raise DataError(
                f"The obs column {label!r} in {str(path)!r} is empty (all {len(values)} cells missing)."
            )
        if missing.any():
            warnings.warn(
                f"{int(missing.sum())} of {len(values)} cells have no value in the obs column {label!r} "
                "and were dropped.",
                stacklevel=2,
            )
            x, values = x[~missing], values[~missing]
            cell_ids = [c for c, gone in zip(cell_ids, missing, strict=True) if not gone]
        categorical = str(values.dtype) == "category"
        raw = values.astype(str).to_numpy() if categorical else values.to_numpy()
        raw = check_label_variants(raw, f"obs column {label!r}", repr(str(path)), merge=merge_labels)
        if categorical and task == "auto":
            task = "classification"  # cluster labels "0".."15" are categories, however many
        y, target_names, found_task = encode_target(raw, task=task, name=label)
    return Dataset(
        x=x,
        y=y,
        feature_names=[str(g) for g in var_names],
        target_names=target_names,
        description=f"{x.shape[0]} cells x {x.shape[1]} genes from {path.name} ({source}).",
        task=found_task,
        kind="table",
        name=path.name,
        target_name=label or "label",
        ids=cell_ids,
        source=str(path),
        input_format="h5ad",
        layer=layer,
    )
