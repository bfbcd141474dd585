"""The one rule that decides classification or regression (biograd.training.targets).

Every place that asks "is this y a class label?" must give the same answer: the table reader
(bio.infer_task and load_table), data.looks_like_class_labels (stratified splits), fit (the loss it picks)
and the scikit-learn classifier (the head and loss it builds). The expected answers are the rule as the
module docstring states it.
"""

import warnings

import numpy as np
import pytest

import biograd
from biograd.bio import infer_task as reader_task
from biograd.bio import load_table
from biograd.data import looks_like_class_labels
from biograd.nn import MLP
from biograd.training import ConvergenceWarning, TargetInfo, infer_task, set_class_names
from torch_oracle import needs_torch, torch

pytestmark = pytest.mark.filterwarnings("ignore::biograd.training.ConvergenceWarning")

N = 60
RNG = np.random.default_rng(0)
AGES = RNG.integers(18, 90, N)  # ~50 distinct whole numbers: measured values

# name, y, what the reader and looks_like_class_labels say (no model yet),
# then per model width: (outputs, fit's loss, whether fit warns that it could go either way)
CASES = [
    ("float 0/1", np.tile([0.0, 1.0], N // 2), "classification", [(1, "BCEWithLogitsLoss", True)]),
    (
        "float 0/1/2",
        np.tile([0.0, 1.0, 2.0], N // 3),
        "classification",
        [(3, "CrossEntropyLoss", False), (1, "MSELoss", True)],
    ),
    (
        "integer codes 0-3",
        np.tile([0, 1, 2, 3], N // 4),
        "classification",
        [(4, "CrossEntropyLoss", False), (1, "MSELoss", True)],
    ),
    ("integer 0/1", np.tile([0, 1], N // 2), "classification", [(1, "BCEWithLogitsLoss", False)]),
    (
        "grades 1-5 as floats",
        np.tile([1.0, 2.0, 3.0, 4.0, 5.0], N // 5),
        "classification",
        [(5, "CrossEntropyLoss", False)],
    ),
    ("text", np.tile(["healthy", "tumour"], N // 2), "classification", [(1, "BCEWithLogitsLoss", False)]),
    ("three texts", np.tile(["B", "NK", "T"], N // 3), "classification", [(3, "CrossEntropyLoss", False)]),
    ("booleans", np.tile([True, False], N // 2), "classification", [(1, "BCEWithLogitsLoss", False)]),
    ("ages (many integers)", AGES, "regression", [(1, "MSELoss", False)]),
    ("measurements", RNG.normal(5.0, 2.0, N), "regression", [(1, "MSELoss", False)]),
]


def _x(n=N):
    return np.random.default_rng(1).standard_normal((n, 3)).astype(np.float32)


def _fit_loss(y, outputs, **kwargs):
    """(the loss fit picked, the UserWarnings it gave) for a model with `outputs` outputs."""
    biograd.manual_seed(0)
    model = MLP([3, 4, outputs])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h = biograd.fit(model, _x(len(y)), y, epochs=1, verbose=False, **kwargs)
    said = [str(w.message) for w in caught if not issubclass(w.category, ConvergenceWarning)]
    return h, model, said


@pytest.mark.parametrize("name, y, without_model, per_width", CASES, ids=[c[0] for c in CASES])
def test_reader_split_and_fit_give_one_answer(name, y, without_model, per_width):
    assert reader_task(y) == without_model
    assert infer_task(y).task == without_model
    assert looks_like_class_labels(y) == (without_model == "classification")
    for outputs, loss, warns in per_width:
        h, model, said = _fit_loss(y, outputs)
        assert h.params["loss"] == loss, (name, outputs)
        task = "regression" if loss == "MSELoss" else "classification"
        assert h.task == task and model.target_info.task == task
        assert infer_task(y, n_outputs=outputs).task == task
        assert bool(said) == warns, said
        if warns:  # the warning says how to force the other answer
            assert "loss='mse'" in said[0] or "outputs" in said[0]


@pytest.mark.parametrize(
    "name, y, without_model, per_width",
    [c for c in CASES if c[2] == "classification"],
    ids=[c[0] for c in CASES if c[2] == "classification"],
)
def test_scikit_learn_classifier_builds_the_head_fit_would_choose(name, y, without_model, per_width):
    from biograd.sklearn import NeuralNetClassifier

    outputs, loss, _ = per_width[0]  # the width that fits the classes
    clf = NeuralNetClassifier(hidden_layer_sizes=(4,), max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(_x(len(y)), y)
    assert clf.n_outputs_ == outputs and clf.model_.target_info.loss == loss
    assert list(clf.classes_) == sorted(set(y.tolist()))


def test_scikit_learn_regressor_keeps_whole_numbers_as_numbers():
    from biograd.sklearn import NeuralNetRegressor

    y = np.tile([0.0, 1.0], N // 2)  # the estimator says the task: no guess, no warning
    reg = NeuralNetRegressor(hidden_layer_sizes=(4,), max_iter=1, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg.fit(_x(), y)
    assert reg.model_.target_info.loss == "MSELoss"
    assert not [w for w in caught if "two classes" in str(w.message)]


def test_table_reader_reads_a_float_zero_one_column_as_classes(tmp_path):
    # one missing value makes pandas read the 0/1 column as floats; the task must not change
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(_x(40), columns=["a", "b", "c"])
    frame["status"] = np.tile([0, 1], 20).astype(float)
    frame.loc[3, "status"] = np.nan
    frame.to_csv(tmp_path / "t.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = load_table(tmp_path / "t.csv", target="status")
    assert table.task == "classification" and table.target_names == ["0", "1"]
    h, _, _ = _fit_loss(table.y, 1)
    assert h.params["loss"] == "BCEWithLogitsLoss"


def test_a_loss_forces_the_task_without_a_warning():
    y = np.tile([0.0, 1.0, 2.0], N // 3)
    h, _, said = _fit_loss(y, 1, loss="mse")
    assert h.task == "regression" and not said
    h, _, said = _fit_loss(np.tile([0.0, 1.0], N // 2), 1, loss="mse")
    assert h.task == "regression" and not said
    h, _, said = _fit_loss(np.tile([0.0, 1.0], N // 2), 1, loss="bce_with_logits")
    assert h.task == "classification" and not said


def test_impossible_combinations_are_explained():
    with pytest.raises(ValueError, match=r"gives 1 output\(s\) per sample but y has 3 classes"):
        _fit_loss(np.tile(["B", "NK", "T"], N // 3), 1)
    with pytest.raises(ValueError, match=r"gives 3 output\(s\) per sample but y has 1 value"):
        _fit_loss(RNG.normal(size=N), 3)  # fractions are numbers: one per sample for 3 outputs


def test_small_samples_need_each_value_twice_to_be_classes():
    assert infer_task([1.0, 2.0, 3.0, 4.0]).task == "regression"  # four values, each seen once
    assert infer_task([1.0, 2.0, 3.0, 1.0, 2.0, 3.0]).task == "classification"
    assert infer_task([0.0, 1.0]).task == "classification"  # two values are always a binary label


# --------------------------------------------------------------------------------------------------
# TargetInfo: the documented attribute, saved and loaded as before
# --------------------------------------------------------------------------------------------------


def test_target_info_is_saved_in_the_old_format_and_loads(tmp_path):
    y = np.tile(["healthy", "tumour"], N // 2)
    _, model, _ = _fit_loss(y, 1)
    info = model.target_info
    assert info == TargetInfo("classification", "BCEWithLogitsLoss", "logits", ["healthy", "tumour"], (1,))
    biograd.save(model, tmp_path / "m")
    import json

    document = json.loads((tmp_path / "m" / "model.json").read_text())
    # the keys files have always had, so older biograd versions read new files and vice versa
    assert document["target"] == {
        "task": "classification",
        "loss": "BCEWithLogitsLoss",
        "output_kind": "logits",
        "classes": ["healthy", "tumour"],
        "output_shape": [1],
        "feature_names": None,
    }
    loaded = biograd.load(tmp_path / "m")
    assert loaded.target_info == info
    assert set(biograd.predict(loaded, _x())) <= {"healthy", "tumour"}


def test_class_names_are_set_with_a_function_not_by_editing_a_dict():
    _, model, _ = _fit_loss(np.tile([0, 1, 2], N // 3), 3)
    set_class_names(model, ["B", "NK", "T"])
    assert model.target_info.classes == ["B", "NK", "T"]
    assert set(biograd.predict(model, _x())) <= {"B", "NK", "T"}
    with pytest.raises(ValueError, match=r"3 classes .* but 2 names"):
        set_class_names(model, ["B", "T"])


@needs_torch
def test_predict_proba_is_stable_for_huge_logits():
    model = biograd.nn.Linear(1, 3)
    model.weight.data[:] = np.array([[1000.0], [0.0], [-1000.0]], dtype=np.float32)
    model.bias.data[:] = 0
    x = np.array([[1.0], [-1.0]], dtype=np.float32)
    p = biograd.predict_proba(model, x)
    expected = torch.softmax(torch.tensor(biograd.predict(model, x, task="raw"), dtype=torch.float64), 1)
    np.testing.assert_allclose(p, expected.numpy(), atol=1e-12)
    one = biograd.nn.Linear(1, 1)
    one.weight.data[:] = 1000.0
    one.bias.data[:] = 0
    p = biograd.predict_proba(one, x)
    np.testing.assert_allclose(p[:, 1], torch.sigmoid(torch.tensor([1000.0, -1000.0])).numpy(), atol=1e-12)
