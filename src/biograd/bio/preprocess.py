"""The Preprocessor: a table's columns turned into network inputs, learned on the training split only.

It learns everything it needs (means, standard deviations, categories, fill values) from the TRAINING
rows, so nothing about the test samples leaks into training. Its state is a plain JSON-able dict, saved
inside the model file, so ``predict`` applies exactly the same scaling and encoding, matching columns by
name in any order.

>>> table = load_table("expression.csv", target="disease")          # doctest: +SKIP
>>> prep = Preprocessor(impute="median").fit(table.features.iloc[train])
>>> x_train = prep.transform(table.features.iloc[train])
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from biograd.bio.columns import _is_numeric, detect_id_column
from biograd.bio.errors import DataError


class Preprocessor:
    """Turn a table's columns into a float32 matrix: numeric columns standardized, text columns one-hot.

    ``fit`` learns from the training rows only:

    - numeric column c: x' = (x - mean_c) / std_c (std 1 for a constant column);
    - missing numeric values (with ``impute``): replaced by the training mean or median first;
    - text/boolean column: one 0/1 column per category seen in training ("tissue=liver"). A category
      never seen in training, or a missing value, becomes all zeros (with a warning), not a crash;
    - an ID column (given, or detected: non-numeric and all values different) is kept out of the features.

    Args:
        impute: None (missing values are an error), "mean" or "median".
        max_categories: more distinct values than this in a text column is an error (it is probably
            an identifier or free text, not a category).
        id_column: the ID column's name; None detects it.
        standardize: scale numeric columns to mean 0, standard deviation 1.
    """

    def __init__(
        self,
        impute: str | None = None,
        max_categories: int = 50,
        id_column: str | None = None,
        standardize: bool = True,
    ) -> None:
        if impute not in (None, "mean", "median"):
            raise ValueError(
                "The 'impute' parameter of Preprocessor must be None, 'mean' or 'median'. "
                f"Got {impute!r} instead."
            )
        if isinstance(max_categories, bool) or not isinstance(max_categories, int) or max_categories < 2:
            raise ValueError(
                "The 'max_categories' parameter of Preprocessor must be an int >= 2. "
                f"Got {max_categories!r} instead."
            )
        self.impute = impute
        self.max_categories = max_categories
        self.id_column = id_column
        self.standardize = standardize
        self.numeric: list[dict[str, Any]] = []
        self.categorical: list[dict[str, Any]] = []
        self.columns: list[str] = []
        self.fitted = False

    # -- learning ----------------------------------------------------------------------------------
    def fit(self, frame: Any) -> Preprocessor:
        """Learn means, standard deviations, fill values and categories from these (training) rows."""
        frame = _as_frame(frame)
        if self.id_column is None:
            self.id_column = detect_id_column(frame)
        self.numeric, self.categorical, self.columns = [], [], []
        for name in frame.columns:
            name = str(name)
            if name == self.id_column:
                continue
            column = frame[name]
            self.columns.append(name)
            if _is_numeric(column):
                values = column.to_numpy(dtype=np.float64)
                finite = values[np.isfinite(values)]
                if finite.size == 0:
                    raise DataError(
                        f"Feature column {name!r} has no finite values in the training data, so it can be "
                        "neither scaled nor imputed. Remove the column, or fill in its values."
                    )
                if finite.size < values.size and self.impute is None:
                    raise DataError(
                        f"Feature column {name!r} has {values.size - finite.size} missing or infinite "
                        "values. Fill them in with --impute mean or median (impute='mean' or 'median' in "
                        "Python), or remove them."
                    )
                fill = float(np.median(finite)) if self.impute == "median" else float(finite.mean())
                filled = np.where(np.isfinite(values), values, fill)
                mean, std = float(filled.mean()), float(filled.std())
                if not self.standardize:
                    mean, std = 0.0, 1.0
                self.numeric.append(
                    {"name": name, "mean": mean, "std": std if std > 0 else 1.0, "fill": fill}
                )
            else:
                categories = sorted({str(v) for v in column.dropna()})
                if len(categories) > self.max_categories:
                    raise DataError(
                        f"Column {name!r} has {len(categories)} different text values (more than "
                        f"{self.max_categories}): too many categories to one-hot encode. Drop it, or name it "
                        "as the ID column (--id) if it identifies samples."
                    )
                self.categorical.append({"name": name, "categories": categories})
        if not self.columns:
            raise DataError("The table has no feature columns to learn from.")
        self.fitted = True
        return self

    # -- applying ----------------------------------------------------------------------------------
    def transform(self, frame: Any) -> np.ndarray:
        """The float32 feature matrix (samples, n_features_out) for any table with the fitted columns
        (by name, in any order; extra columns are ignored)."""
        if not self.fitted:
            raise RuntimeError("This Preprocessor is not fitted yet; call fit() on the training data first.")
        frame = _as_frame(frame)
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            shown = ", ".join(map(repr, missing[:10])) + (" ..." if len(missing) > 10 else "")
            raise DataError(
                f"The data lacks {len(missing)} column(s) the model was trained on: {shown}. "
                "Columns are matched by name."
            )
        n = len(frame)
        blocks: list[np.ndarray] = []
        numeric_cols = {c["name"]: c for c in self.numeric}
        for name in self.columns:
            if name in numeric_cols:
                stats = numeric_cols[name]
                try:
                    values = frame[name].to_numpy(dtype=np.float64)
                except (TypeError, ValueError):
                    raise DataError(
                        f"Column {name!r} was numeric in training but holds text here "
                        f"(e.g. {str(frame[name].iloc[0])!r})."
                    ) from None
                bad = ~np.isfinite(values)
                if bad.any():
                    if self.impute is None:
                        raise DataError(
                            f"Column {name!r} has {int(bad.sum())} missing or infinite values; the model was "
                            "trained without imputation, so it cannot fill them in. Fill them in first, or "
                            "train again with --impute mean or median (impute='mean' or 'median' in Python)."
                        )
                    values = np.where(bad, stats["fill"], values)
                blocks.append(((values - stats["mean"]) / stats["std"])[:, None])
            else:
                spec = next(c for c in self.categorical if c["name"] == name)
                text = frame[name].astype(object)
                present = text.notna().to_numpy()
                text = np.asarray([str(v) for v in text])
                onehot = (text[:, None] == np.asarray(spec["categories"])[None, :]) & present[:, None]
                unseen = present & ~onehot.any(axis=1)
                if unseen.any():
                    examples = sorted({str(v) for v in text[unseen]})[:3]
                    warnings.warn(
                        f"Column {name!r}: {int(unseen.sum())} value(s) not seen in training "
                        f"({', '.join(map(repr, examples))}) are encoded as all zeros.",
                        stacklevel=2,
                    )
                blocks.append(onehot.astype(np.float64))
        x = np.concatenate(blocks, axis=1) if blocks else np.zeros((n, 0))
        return x.astype(np.float32)

    def fit_transform(self, frame: Any) -> np.ndarray:
        return self.fit(frame).transform(frame)

    @property
    def feature_names(self) -> list[str]:
        """Names of the output columns: numeric columns as they are, categories as "column=value"."""
        numeric = {c["name"] for c in self.numeric}
        names: list[str] = []
        for name in self.columns:
            if name in numeric:
                names.append(name)
            else:
                spec = next(c for c in self.categorical if c["name"] == name)
                names.extend(f"{name}={v}" for v in spec["categories"])
        return names

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    # -- saving ------------------------------------------------------------------------------------
    def to_config(self) -> dict[str, Any]:
        """Everything learned, as a JSON-able dict (saved in the model's JSON file; no pickle)."""
        return {
            "impute": self.impute,
            "max_categories": self.max_categories,
            "id_column": self.id_column,
            "standardize": self.standardize,
            "columns": list(self.columns),
            "numeric": [dict(c) for c in self.numeric],
            "categorical": [
                {"name": c["name"], "categories": list(c["categories"])} for c in self.categorical
            ],
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Preprocessor:
        """Rebuild a fitted Preprocessor from :meth:`to_config`'s dict."""
        try:
            prep = cls(
                impute=config["impute"],
                max_categories=int(config["max_categories"]),
                id_column=config["id_column"],
                standardize=bool(config["standardize"]),
            )
            prep.columns = [str(c) for c in config["columns"]]
            prep.numeric = [
                {
                    "name": str(c["name"]),
                    "mean": float(c["mean"]),
                    "std": float(c["std"]),
                    "fill": float(c["fill"]),
                }
                for c in config["numeric"]
            ]
            prep.categorical = [
                {"name": str(c["name"]), "categories": [str(v) for v in c["categories"]]}
                for c in config["categorical"]
            ]
        except (KeyError, TypeError, ValueError) as err:
            raise DataError(
                f"The saved preprocessing settings are incomplete or corrupt ({err!r})."
            ) from None
        prep.fitted = True
        return prep

    def __repr__(self) -> str:
        state = (
            f"{len(self.numeric)} numeric, {len(self.categorical)} categorical columns -> "
            f"{self.n_features} features"
            if self.fitted
            else "not fitted"
        )
        return f"Preprocessor(impute={self.impute!r}, {state})"


def _as_frame(frame: Any) -> Any:
    import pandas as pd

    if isinstance(frame, pd.DataFrame):
        out = frame.copy()
        out.columns = [str(c) for c in out.columns]
        return out
    raise TypeError(
        f"Preprocessor needs a pandas DataFrame (columns matched by name); got {type(frame).__name__}."
    )
