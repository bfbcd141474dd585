"""bio.matrix: genes x samples matrices joined with their sample sheet (against a hand-built table)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from biograd.bio.errors import DataError
from biograd.bio.matrix import join_matrix_and_sheet


def _data(seed=0):
    rng = np.random.default_rng(seed)
    samples = [f"GSM{100 + i}" for i in range(6)]
    genes = ["TP53", "MYC", "CD99", "FLI1"]
    values = rng.normal(size=(len(samples), len(genes))).round(3)
    tall = pd.DataFrame(values.T, columns=samples)
    tall.insert(0, "gene", genes)
    sheet = pd.DataFrame(
        {"title": [f"tumour {i}" for i in range(6)], "geo_accession": samples[::-1], "type": list("EENNRR")}
    )
    return samples, genes, values, tall, sheet


def test_genes_by_samples_is_detected_transposed_and_joined_by_sample_id():
    samples, genes, values, tall, sheet = _data()
    joined = join_matrix_and_sheet(tall, sheet, ["type"])
    assert list(joined.columns) == ["geo_accession", "type", *genes]
    assert joined["geo_accession"].tolist() == samples[::-1]  # the sheet's order
    for _, row in joined.iterrows():
        i = samples.index(row["geo_accession"])
        np.testing.assert_allclose(row[genes].to_numpy(float), values[i])
        assert row["type"] == sheet.set_index("geo_accession").loc[row["geo_accession"], "type"]


def test_samples_by_genes_is_detected_too():
    samples, genes, values, _, sheet = _data()
    wide = pd.DataFrame(values, columns=genes)
    wide.insert(0, "sample", samples)
    joined = join_matrix_and_sheet(wide, sheet, ["type"])
    assert list(joined.columns) == ["geo_accession", "type", *genes]
    np.testing.assert_allclose(joined.set_index("geo_accession").loc[samples, genes].to_numpy(float), values)


def test_samples_missing_on_either_side_are_left_out_with_a_warning():
    _, _, _, tall, sheet = _data()
    sheet = pd.concat([sheet.iloc[1:], pd.DataFrame({"geo_accession": ["GSM999"], "type": ["E"]})])
    with pytest.warns(UserWarning, match=r"1 sample\(s\) of 'm.csv' are not in 's.csv'.*GSM999"):
        joined = join_matrix_and_sheet(tall, sheet, ["type"], matrix_name="m.csv", sheet_name="s.csv")
    assert len(joined) == 5


def test_errors_name_files_ids_and_the_fix():
    _, _, _, tall, sheet = _data()
    other = sheet.assign(geo_accession=[f"S{i}" for i in range(6)])
    with pytest.raises(DataError, match=r"No sample ID of 's\.csv'"):
        join_matrix_and_sheet(tall, other, ["type"], sheet_name="s.csv")
    with pytest.raises(DataError, match=r"no column 'typ'.*Did you mean 'type'"):
        join_matrix_and_sheet(tall, sheet, ["typ"])
    bad = tall.astype(object)
    bad.iloc[1, 2] = "1.2.3"
    with pytest.raises(DataError, match=r"'1\.2\.3' of gene 'MYC' in sample 'GSM101' is not a number"):
        join_matrix_and_sheet(bad, sheet, ["type"], matrix_name="m.csv")
    dup = tall.copy()
    dup.iloc[1, 0] = "TP53"
    with pytest.raises(DataError, match="names 1 gene"):
        join_matrix_and_sheet(dup, sheet, ["type"])


def test_orientation_can_be_stated():
    _, genes, _, tall, sheet = _data()
    joined = join_matrix_and_sheet(tall, sheet, ["type"], orientation="genes-by-samples")
    assert list(joined.columns)[2:] == genes
