"""Tables: load_table's checks and the Preprocessor, with scikit-learn's StandardScaler, OneHotEncoder and
SimpleImputer as the oracle."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from biograd.bio import DataError, Preprocessor, encode_target, infer_task, load_table
from biograd.bio.targets import warn_class_imbalance


def make_frame(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "sample": [f"S{i:03d}" for i in range(n)],
            "geneA": rng.normal(5, 2, n),
            "geneB": rng.normal(-1, 0.5, n),
            "tissue": rng.choice(["liver", "lung", "brain"], n),
            "disease": rng.choice(["healthy", "tumour"], n),
        }
    )


def test_preprocessor_matches_sklearn_fit_on_train_only():
    frame = make_frame()
    train, test = frame.iloc[:30], frame.iloc[30:]
    prep = Preprocessor().fit(train.drop(columns="disease"))
    assert prep.id_column == "sample"
    assert prep.feature_names == ["geneA", "geneB", "tissue=brain", "tissue=liver", "tissue=lung"]
    x = prep.transform(test.drop(columns="disease"))
    scaler = StandardScaler().fit(train[["geneA", "geneB"]])
    encoder = OneHotEncoder(handle_unknown="ignore").fit(train[["tissue"]])
    expected = np.hstack(
        [scaler.transform(test[["geneA", "geneB"]]), encoder.transform(test[["tissue"]]).toarray()]
    )
    assert x.dtype == np.float32
    np.testing.assert_allclose(x, expected, rtol=1e-5, atol=1e-6)


def test_columns_matched_by_name_and_missing_ones_named():
    frame = make_frame().drop(columns="disease")
    prep = Preprocessor().fit(frame)
    shuffled = frame[["tissue", "geneB", "sample", "geneA"]].assign(extra=1.0)
    np.testing.assert_array_equal(prep.transform(shuffled), prep.transform(frame))
    with pytest.raises(DataError, match=r"lacks 2 column.*'geneA', 'tissue'"):
        prep.transform(frame.drop(columns=["geneA", "tissue"]))


def test_unseen_category_is_all_zero_with_a_warning():
    frame = make_frame().drop(columns="disease")
    prep = Preprocessor().fit(frame)
    new = frame.iloc[:3].copy()
    new["tissue"] = ["kidney", "liver", None]
    with pytest.warns(UserWarning, match=r"1 value.*not seen in training.*'kidney'"):
        x = prep.transform(new)
    np.testing.assert_array_equal(x[0, 2:], 0)
    np.testing.assert_array_equal(x[1, 2:], [0, 1, 0])
    np.testing.assert_array_equal(x[2, 2:], 0)


def test_too_many_categories_is_a_clear_error():
    frame = pd.DataFrame({"x": np.arange(80.0), "note": [f"free text {i % 60}" for i in range(80)]})
    with pytest.raises(DataError, match=r"'note' has 60 different text values.*more than 50"):
        Preprocessor().fit(frame)
    assert Preprocessor(max_categories=60).fit(frame).n_features == 61


@pytest.mark.parametrize("strategy", ["mean", "median"])
def test_imputation_uses_training_statistics(strategy):
    rng = np.random.default_rng(1)
    train = pd.DataFrame({"a": rng.normal(size=30), "b": rng.exponential(size=30)})
    train.iloc[[2, 5], 0] = np.nan
    train.iloc[7, 1] = np.inf
    test = pd.DataFrame({"b": [np.nan, 1.0], "a": [0.5, np.nan]})
    prep = Preprocessor(impute=strategy).fit(train)
    imputer = SimpleImputer(strategy=strategy).fit(train.replace(np.inf, np.nan))
    filled_train = imputer.transform(train.replace(np.inf, np.nan))
    scaler = StandardScaler().fit(filled_train)
    expected = scaler.transform(imputer.transform(test[["a", "b"]]))
    np.testing.assert_allclose(prep.transform(test), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(DataError, match=r"'a' has 2 missing or infinite values.*impute"):
        Preprocessor().fit(train)


def test_config_round_trips_through_json():
    frame = make_frame().drop(columns="disease")
    prep = Preprocessor(impute="median").fit(frame)
    config = json.loads(json.dumps(prep.to_config()))
    again = Preprocessor.from_config(config)
    np.testing.assert_array_equal(again.transform(frame), prep.transform(frame))
    assert again.feature_names == prep.feature_names and again.id_column == "sample"
    with pytest.raises(DataError, match=r"corrupt"):
        Preprocessor.from_config({"impute": None})


def test_infer_task_and_encode_target():
    assert infer_task(["a", "b"]) == "classification"
    assert infer_task([0, 1, 1, 0]) == "classification"
    assert infer_task([1.0, 2.0, 3.0, 2.0, 1.0, 3.0]) == "classification"  # grades: whole numbers
    assert infer_task([1.0, 2.0, 3.0, 4.0]) == "regression"  # 4 values in 4 rows: each seen once
    assert infer_task(np.arange(50)) == "regression"
    assert infer_task([0.5, 1.2, 3.3]) == "regression"
    y, names, task = encode_target(["tumour", "healthy", "tumour"])
    assert y.tolist() == [1, 0, 1] and names == ["healthy", "tumour"] and task == "classification"
    y, names, _ = encode_target([10, 2, 2, 10])
    assert names == ["2", "10"] and y.tolist() == [1, 0, 0, 1]
    with pytest.raises(DataError, match=r"single class"):
        encode_target(["a", "a", "a"])
    with pytest.raises(DataError, match=r"non-numeric"):
        encode_target(["a", "b"], task="regression")


def write(tmp_path, frame, name="data.csv", sep=","):
    path = tmp_path / name
    frame.to_csv(path, sep=sep, index=False)
    return path


def test_load_table_csv_and_tsv(tmp_path):
    frame = make_frame()
    for name, sep in [("d.csv", ","), ("d.tsv", "\t"), ("d.txt", "\t"), ("d.txt2", ";")]:
        table = load_table(write(tmp_path, frame, name, sep), target="disease")
        assert table.task == "classification" and table.target_names == ["healthy", "tumour"]
        assert table.id_column == "sample" and table.ids[:2] == ["S000", "S001"]
        assert list(table.features.columns) == ["geneA", "geneB", "tissue"]
        np.testing.assert_array_equal(table.y, (frame["disease"] == "tumour").astype(int))
    reg = load_table(write(tmp_path, frame), target="geneA", id_column="sample")
    assert reg.task == "regression" and "disease" in reg.features.columns


def test_load_table_errors(tmp_path):
    frame = make_frame()
    path = write(tmp_path, frame)
    with pytest.raises(DataError, match=r"no column 'diseas'. Did you mean 'disease'"):
        load_table(path, target="diseas")
    with pytest.raises(FileNotFoundError, match=r"missing.csv"):
        load_table(tmp_path / "missing.csv", target="disease")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match=r"empty"):
        load_table(tmp_path / "empty.csv", target="disease")
    one = frame.assign(disease="tumour")
    with pytest.raises(DataError, match=r"single class"):
        load_table(write(tmp_path, one, "one.csv"), target="disease")
    with pytest.raises(DataError, match=r"all 40 values missing"):
        load_table(write(tmp_path, frame.assign(disease=np.nan), "nan.csv"), target="disease")
    holes = frame.copy()
    holes.loc[[1, 2, 3], "geneA"] = np.nan
    holes.loc[4, "geneB"] = np.inf
    with pytest.raises(DataError, match=r"geneA \(3\), geneB \(1\).*\n.*--impute mean or --impute median"):
        load_table(write(tmp_path, holes, "holes.csv"), target="disease")
    assert load_table(write(tmp_path, holes, "holes.csv"), target="disease", impute="mean").n_samples == 40
    (tmp_path / "dup.csv").write_text("a,b,a,y\n" + "\n".join(f"{i},{i},{i},{i % 2}" for i in range(30)))
    with pytest.raises(DataError, match=r"duplicated column names 'a'"):
        load_table(tmp_path / "dup.csv", target="y")
    spoiled = frame.assign(geneA=frame["geneA"].astype(object))
    spoiled.loc[3, "geneA"] = "n/a?"
    with pytest.raises(DataError, match=r"'geneA' holds numbers but 1 value\(s\) are text \('n/a\?'\)"):
        load_table(write(tmp_path, spoiled, "spoiled.csv"), target="disease")
    many = frame.assign(note=[f"note {i % 35}" for i in range(40)])
    with pytest.raises(DataError, match=r"'note' has 35 different text values.*--id"):
        load_table(write(tmp_path, many, "many.csv"), target="disease", max_categories=30)
    with pytest.raises(DataError, match=r"has 10 samples.*at least 20"):
        load_table(write(tmp_path, frame.iloc[:10], "small.csv"), target="disease")


def test_load_table_warnings(tmp_path):
    frame = make_frame(100)
    frame["disease"] = ["tumour"] * 98 + ["healthy"] * 2
    with (
        pytest.warns(UserWarning, match=r"Class imbalance.*'healthy' has only 2 of 100.*'tumour' has 98"),
        pytest.warns(UserWarning, match=r"Few samples in class 'healthy' of 'disease': 2;"),
    ):
        load_table(write(tmp_path, frame), target="disease")
    frame = make_frame(40)
    frame.loc[[0, 1], "disease"] = np.nan
    with pytest.warns(UserWarning, match=r"2 of 40 rows have no value in the target"):
        table = load_table(write(tmp_path, frame, "x.csv"), target="disease")
    assert table.n_samples == 38


def caught(y, names):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        warn_class_imbalance(np.asarray(y), names, "status")
    return [str(w.message) for w in record]


def test_balanced_small_classes_are_few_not_imbalanced():
    """6 classes of 4 samples each are balanced: no imbalance, but each class is few."""
    messages = caught(np.repeat(np.arange(6), 4), list("abcdef"))
    assert len(messages) == 1 and "imbalance" not in messages[0].lower()
    assert messages[0].startswith("Few samples in 6 classes of 'status' ('a': 4, 'b': 4,")
    assert "very uncertain" in messages[0] and "merge classes" in messages[0]


@pytest.mark.parametrize(
    ("counts", "imbalanced", "few"),
    [
        ((95, 5), True, False),  # 5 is 5% of 100 but a quarter of 95 or less: imbalance, not few
        ((96, 4), True, True),  # both: rare and few
        ((80, 20), True, False),  # 20 * 4 <= 80
        ((79, 21), False, False),
        ((50, 50), False, False),
        ((30, 3, 3), True, True),
    ],
)
def test_class_imbalance_and_few_samples_are_told_apart(counts, imbalanced, few):
    y = np.repeat(np.arange(len(counts)), counts)
    messages = caught(y, [f"c{k}" for k in range(len(counts))])
    assert any(m.startswith("Class imbalance in 'status'") for m in messages) == imbalanced
    assert any(m.startswith("Few samples in") for m in messages) == few
    assert len(messages) == imbalanced + few
    if imbalanced:
        n, smallest, largest = sum(counts), min(counts), max(counts)
        assert f"has only {smallest} of {n} samples" in messages[0] and f"has {largest})" in messages[0]


def assert_same_features(table, frame, columns=("geneA", "geneB", "tissue")):
    """The features load_table read equal the frame that was written (the oracle), column by column."""
    assert list(table.features.columns) == list(columns)
    for name in columns:
        if not pd.api.types.is_numeric_dtype(frame[name]):  # text: object in pandas 2, str in pandas 3
            assert table.features[name].tolist() == frame[name].tolist()
        else:
            np.testing.assert_allclose(table.features[name].to_numpy(np.float64), frame[name], rtol=1e-12)


def test_semicolon_csv_is_detected(tmp_path):
    frame = make_frame()
    path = write(tmp_path, frame, "semi.csv", sep=";")  # a .csv name, but ';' between the columns
    table = load_table(path, target="disease")
    assert_same_features(table, frame)
    assert table.target_names == ["healthy", "tumour"] and table.ids[:2] == ["S000", "S001"]
    # a comma in the header still means comma-separated, even with semicolons inside the values
    with_semicolons = frame.assign(tissue=frame["tissue"] + ";x")
    assert_same_features(
        load_table(write(tmp_path, with_semicolons, "c.csv"), target="disease"), with_semicolons
    )
    tabbed = load_table(write(tmp_path, frame, "tab.csv", sep="\t"), target="disease")
    assert_same_features(tabbed, frame)


def test_semicolon_csv_with_decimal_commas_reads_numbers(tmp_path):
    frame = make_frame()
    path = tmp_path / "excel_de.csv"
    frame.to_csv(path, sep=";", decimal=",", index=False)  # what Excel writes in most of Europe
    assert "," in path.read_text().splitlines()[1]
    with pytest.warns(
        UserWarning, match=r"decimal commas as decimal points in 2 column\(s\): 'geneA', 'geneB'"
    ):
        table = load_table(path, target="disease")
    assert_same_features(table, frame)


def test_excel_clinical_table_with_decimal_commas_reads_numbers_on_every_pandas(tmp_path):
    """A clinical table saved by a European Excel: its numbers are text to pandas (dtype object in
    pandas 2, str in pandas 3); read as categories they gave "163 different text values ... too many
    categories". A text column must stay text, whatever its dtype is called."""
    rng = np.random.default_rng(3)
    n = 200
    bmi = np.round(rng.uniform(17, 40, n), 1)
    age = rng.integers(20, 90, n)
    frame = pd.DataFrame(
        {
            "patient": [f"P{i:04d}" for i in range(n)],
            "BMI (kg/m²)": bmi,
            "age": age,
            "sex": rng.choice(["f", "m"], n),
            "outcome": rng.choice(["relapse", "remission"], n),
        }
    )
    path = tmp_path / "clinical.csv"
    path.write_bytes(frame.to_csv(sep=";", decimal=",", index=False).encode("utf-8"))
    assert "," in path.read_text(encoding="utf-8").splitlines()[1]
    with pytest.warns(UserWarning, match=r"in 1 column\(s\): 'BMI \(kg/m²\)'"):
        table = load_table(path, target="outcome")
    column = table.features["BMI (kg/m²)"]
    assert pd.api.types.is_float_dtype(column)
    np.testing.assert_array_equal(column.to_numpy(np.float64), bmi)  # oracle: the numbers written
    assert pd.api.types.is_integer_dtype(table.features["age"])
    assert not pd.api.types.is_numeric_dtype(table.features["sex"])
    prep = Preprocessor().fit(table.features)
    assert prep.feature_names == ["BMI (kg/m²)", "age", "sex=f", "sex=m"]


def test_cp1252_and_latin1_files_are_read_with_a_warning(tmp_path):
    frame = make_frame().rename(columns={"geneB": "gène µB"})
    frame["tissue"] = frame["tissue"].replace({"liver": "foie", "lung": "poumon", "brain": "cœur"})
    path = tmp_path / "excel.csv"
    path.write_bytes(frame.to_csv(index=False).encode("cp1252"))  # œ exists in cp1252, not latin-1
    with pytest.warns(UserWarning, match=r"excel.csv' is not UTF-8 text.*read it as cp1252"):
        table = load_table(path, target="disease")
    assert_same_features(table, frame, ("geneA", "gène µB", "tissue"))
    # byte 0x81 is not a cp1252 character: latin-1, which reads any byte, is the last resort
    latin = frame.assign(tissue=frame["tissue"].replace({"cœur": "c\x81ur"}))
    path.write_bytes(latin.to_csv(index=False).encode("latin-1"))
    with pytest.warns(UserWarning, match=r"read it as latin-1"):
        assert_same_features(load_table(path, target="disease"), latin, ("geneA", "gène µB", "tissue"))
    path.write_bytes(frame.to_csv(index=False).encode("utf-16"))  # Excel's "Unicode text"
    assert_same_features(load_table(path, target="disease"), frame, ("geneA", "gène µB", "tissue"))


def test_empty_columns_are_dropped_with_a_warning(tmp_path):
    frame = make_frame()
    path = tmp_path / "trailing.csv"
    path.write_text("".join(line + ",,\n" for line in frame.to_csv(index=False).splitlines()))  # Excel
    with pytest.warns(UserWarning, match=r"dropped 2 empty column\(s\).*'Unnamed: 5', 'Unnamed: 6'"):
        table = load_table(path, target="disease")  # no --impute needed: nothing left to impute
    assert_same_features(table, frame)
    named = frame.assign(notes=np.nan)
    with pytest.warns(UserWarning, match=r"dropped 1 empty column\(s\).*'notes'"):
        assert_same_features(load_table(write(tmp_path, named, "n.csv"), target="disease"), frame)


@pytest.mark.parametrize("start", [0, 1])
def test_a_saved_row_index_is_not_a_feature(tmp_path, start):
    frame = make_frame()
    path = tmp_path / "indexed.csv"
    frame.set_axis(np.arange(start, start + len(frame))).to_csv(path)  # forgot index=False (or R's write.csv)
    with pytest.warns(UserWarning, match=r"dropped column\(s\) 'Unnamed: 0': a saved row index"):
        table = load_table(path, target="disease")
    assert_same_features(table, frame)


def test_unnamed_columns_that_are_not_row_numbers_are_kept(tmp_path):
    frame = make_frame()
    shuffled = np.random.default_rng(0).permutation(len(frame))
    frame.set_axis(shuffled).to_csv(tmp_path / "shuffled.csv")  # a shuffled index carries other meaning
    table = load_table(tmp_path / "shuffled.csv", target="disease")
    assert "Unnamed: 0" in table.features.columns
    counted = frame.assign(rank=np.arange(len(frame)))  # a named column of 0..n-1 is the user's choice
    assert "rank" in load_table(write(tmp_path, counted), target="disease").features.columns


def test_messages_show_plain_values_not_numpy_reprs():
    frame = make_frame().drop(columns="disease")
    prep = Preprocessor().fit(frame)
    new = frame.iloc[:2].assign(tissue=["kidney", "liver"])
    with pytest.warns(UserWarning) as caught:
        prep.transform(new)
    message = str(caught[0].message)
    assert "('kidney')" in message and "np." not in message, message
    with pytest.raises(DataError) as err:
        encode_target(np.asarray(["tumour"] * 5))
    assert "single class ('tumour')" in str(err.value) and "np." not in str(err.value)
    with pytest.raises(DataError) as err:
        encode_target(np.asarray(["a", "b"]), task="regression")
    assert "(e.g. 'a')" in str(err.value) and "np." not in str(err.value)


def test_missing_value_hints_name_the_option_and_the_parameter(tmp_path):
    train = pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [np.nan] * 3})
    with pytest.raises(DataError, match=r"--impute mean or median \(impute='mean' or 'median' in Python\)"):
        Preprocessor().fit(train[["a"]])
    with pytest.raises(DataError, match=r"'b' has no finite values.*Remove the column"):
        Preprocessor(impute="mean").fit(train)


def test_missing_values_at_prediction_say_how_to_retrain():
    prep = Preprocessor().fit(pd.DataFrame({"a": [1.0, 2.0, 3.0]}))
    with pytest.raises(DataError, match=r"'a' has 1 missing.*train again with --impute mean or median"):
        prep.transform(pd.DataFrame({"a": [1.0, np.nan]}))
