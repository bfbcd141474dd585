"""biograd.stats against closed forms and scikit-learn: bootstrap intervals, paired comparisons, folds."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from biograd import stats


def _wald(p: float, n: int) -> tuple[float, float]:
    half = 1.959964 * math.sqrt(p * (1 - p) / n)
    return p - half, p + half


def test_bootstrap_interval_of_a_proportion_matches_the_normal_closed_form():
    # 320 of 400 right: the interval of a proportion is p +- 1.96 sqrt(p(1-p)/n) for n this large
    correct = np.array([1.0] * 320 + [0.0] * 80)
    low, high = stats.bootstrap_interval(np.mean, correct, n_boot=4000, seed=1)
    want_low, want_high = _wald(0.8, 400)
    assert low == pytest.approx(want_low, abs=0.006)
    assert high == pytest.approx(want_high, abs=0.006)


@pytest.mark.parametrize(("k", "n"), [(20, 20), (0, 5), (45, 50), (13, 63), (1, 1), (7, 9)])
def test_proportion_interval_is_scipys_wilson_interval(k, n):
    scipy_stats = pytest.importorskip("scipy.stats")
    want = scipy_stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = stats.proportion_interval(k, n)
    assert low == pytest.approx(float(want.low), abs=1e-9)
    assert high == pytest.approx(float(want.high), abs=1e-9)


def test_all_right_on_few_samples_is_not_certain():
    """20 of 20 right: resampling them gives 1.0 every time, the Wilson interval still says 'maybe 84%'."""
    correct = np.ones(20)
    assert stats.bootstrap_interval(np.mean, correct) == (1.0, 1.0)
    low, high = stats.proportion_interval(20, 20)
    assert high == 1.0 and 0.83 < low < 0.85
    assert stats.proportion_interval(0, 0) is None
    with pytest.raises(ValueError, match="between 0 and n"):
        stats.proportion_interval(5, 4)


def test_paired_difference_matches_the_closed_form_for_a_difference_of_paired_means():
    rng = np.random.default_rng(3)
    n = 500
    a = (rng.random(n) < 0.85).astype(float)  # model A right on these samples
    b = np.where(rng.random(n) < 0.8, a, 1 - a)  # B agrees with A on 80% of samples
    y = np.ones(n)
    result = stats.paired_difference(lambda yy, p: float(np.mean(p == yy)), y, a, b, n_boot=4000, seed=2)
    d = a - b
    half = 1.959964 * d.std() / math.sqrt(n)
    assert result.difference == pytest.approx(d.mean())
    assert result.ci_low == pytest.approx(d.mean() - half, abs=0.006)
    assert result.ci_high == pytest.approx(d.mean() + half, abs=0.006)


def test_verdicts_follow_the_interval():
    assert stats.verdict(0.01, 0.2) == stats.BETTER
    assert stats.verdict(-0.2, -0.01) == stats.WORSE
    assert stats.verdict(-0.05, 0.04) == stats.NO_CLEAR_DIFFERENCE
    assert stats.verdict(None, None) == stats.NO_CLEAR_DIFFERENCE


def test_identical_models_are_never_different_and_a_perfect_one_is_better():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    guess = rng.integers(0, 2, 200)

    def acc(yy, p):
        return float(np.mean(yy == p))

    same = stats.paired_difference(acc, y, guess, guess, n_boot=500)
    assert (same.difference, same.ci_low, same.ci_high) == (0.0, 0.0, 0.0)
    assert same.verdict == stats.NO_CLEAR_DIFFERENCE
    better = stats.paired_difference(acc, y, y, guess, n_boot=500)
    assert better.ci_low > 0 and better.verdict == stats.BETTER
    worse = stats.paired_difference(acc, y, guess, y, n_boot=500)
    assert worse.ci_high < 0 and worse.verdict == stats.WORSE


def test_stratified_bootstrap_keeps_class_sizes_so_an_auc_stays_defined():
    from sklearn.metrics import roc_auc_score

    y = np.array([1] * 3 + [0] * 57)  # a rare class: plain resamples often lose it
    score = np.linspace(0, 1, 60)
    plain = stats.bootstrap_distribution(
        lambda yy, s: roc_auc_score(yy, s) if len(set(yy)) == 2 else None, y, score, n_boot=300
    )
    assert np.isnan(plain).any()
    strat = stats.bootstrap_distribution(roc_auc_score, y, score, n_boot=300, strata=y)
    assert np.isfinite(strat).all()


def test_an_interval_is_refused_when_the_metric_is_mostly_undefined():
    assert stats.bootstrap_interval(lambda x: None, np.arange(10), n_boot=50) is None


def test_bootstrap_is_reproducible_and_seeded():
    x = np.random.default_rng(5).normal(size=40)
    assert stats.bootstrap_interval(np.mean, x, seed=7) == stats.bootstrap_interval(np.mean, x, seed=7)
    assert stats.bootstrap_interval(np.mean, x, seed=7) != stats.bootstrap_interval(np.mean, x, seed=8)


@pytest.mark.parametrize("repeats", [1, 3])
def test_folds_put_each_sample_in_exactly_one_test_part_per_repeat_and_stratify(repeats):
    labels = np.array([0] * 30 + [1] * 10 + [2] * 5)
    folds = stats.cross_validation_folds(len(labels), 5, repeats, labels=labels, seed=0)
    assert len(folds) == 5 * repeats
    for r in range(repeats):
        tests = np.concatenate([f.test for f in folds if f.repeat == r])
        assert sorted(tests.tolist()) == list(range(len(labels)))
    for f in folds:
        assert not set(f.train) & set(f.test)
        assert np.bincount(labels[f.test], minlength=3).tolist() == [6, 2, 1]  # 30/5, 10/5, 5/5


def test_groups_never_straddle_training_and_test():
    rng = np.random.default_rng(1)
    groups = rng.integers(0, 25, 120)
    labels = rng.integers(0, 2, 120)
    for kwargs in ({"labels": labels}, {}):
        for f in stats.cross_validation_folds(120, 4, 2, groups=groups, seed=3, **kwargs):
            assert not set(groups[f.train]) & set(groups[f.test])


def test_repeats_reshuffle_and_seeds_change_the_folds():
    a = stats.cross_validation_folds(50, 5, 2, seed=0)
    assert not np.array_equal(a[0].test, a[5].test)
    b = stats.cross_validation_folds(50, 5, 2, seed=1)
    assert not np.array_equal(a[0].test, b[0].test)


def test_choose_scheme_by_size():
    assert stats.choose_scheme(100) == stats.Scheme("cross-validation", 5, 2)
    assert stats.choose_scheme(1000) == stats.Scheme("cross-validation", 5, 1)
    assert stats.choose_scheme(1000, smallest_group=3).folds == 3
    assert stats.choose_scheme(50_000).scheme == "holdout"
    assert stats.choose_scheme(100).as_dict(100) == {
        "scheme": "cross-validation",
        "folds": 5,
        "repeats": 2,
        "samples": 100,
    }


def test_format_interval():
    assert stats.format_interval(0.91234, (0.8712, 0.948)) == "0.912 [0.871, 0.948]"
    assert stats.format_interval(None, None) == "n/a"


def test_univariate_selection_keeps_the_columns_scikit_learn_scores_highest():
    from sklearn.feature_selection import SelectKBest, f_classif, f_regression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 30))
    y = rng.integers(0, 3, 40)
    x[:, 7] += 3 * y  # an informative gene
    x[:, 11] = 1.0  # a constant one
    got = stats.univariate_selection(x, y, "classification", 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the oracle warns about the constant column
        want = SelectKBest(f_classif, k=5).fit(x, y).get_support(indices=True)
    assert sorted(got.tolist()) == sorted(want.tolist())
    assert got[0] == 7 and 11 not in got
    yr = x[:, 3] * 2 + rng.normal(size=40) * 0.1
    got_r = stats.univariate_selection(x, yr, "regression", 4)
    want_r = SelectKBest(f_regression, k=4).fit(x, yr).get_support(indices=True)
    assert sorted(got_r.tolist()) == sorted(want_r.tolist()) and got_r[0] == 3
    assert stats.univariate_selection(x, y, "classification", 100).tolist() == list(range(30))


def test_rank_stability_counts_members_that_rank_a_feature_in_their_top_list():
    attributions = np.array(
        [
            [5.0, 4.0, 0.1, 0.2],
            [5.0, 0.1, 4.0, 0.2],
            [-5.0, 0.1, 0.2, 4.0],  # signs do not matter: |attribution|
        ]
    )
    np.testing.assert_allclose(stats.rank_stability(attributions, top=2), [1.0, 1 / 3, 1 / 3, 1 / 3])


def test_check_shift_finds_a_shifted_batch_and_names_its_features():
    rng = np.random.default_rng(0)
    names = [f"gene{i}" for i in range(6)]
    train = rng.normal(size=(200, 6))
    profile = stats.Profile.of(train, names)
    same = stats.check_shift(profile, rng.normal(size=(50, 6)))
    assert same.shifted == [] and same.outside_share < 0.05
    batch = rng.normal(size=(50, 6))
    batch[:, 2] += 3.0  # one gene measured on another scale
    batch[:, 4] *= 1000  # another in other units
    found = stats.check_shift(profile, batch)
    assert found.shifted[0][0] in ("gene2", "gene4")
    assert dict(found.shifted)["gene2"] == pytest.approx(3.0 / train[:, 2].std(), abs=0.4)
    assert found.outside_features[0][0] == "gene4" and found.outside_share > 0.5
    text = found.describe()
    assert "'gene2'" in text and "'gene4'" in text and "outside the range" in text


def test_profile_round_trips_through_json():
    import json

    profile = stats.Profile.of(np.arange(12.0).reshape(4, 3), ["a", "b", "c"])
    back = stats.Profile.from_dict(json.loads(json.dumps(profile.as_dict())))
    np.testing.assert_array_equal(back.mean, profile.mean)
    assert back.names == ["a", "b", "c"] and back.samples == 4


def test_a_moved_constant_feature_counts_as_shifted():
    profile = stats.Profile.of(np.column_stack([np.ones(10), np.arange(10.0)]), ["const", "x"])
    found = stats.check_shift(profile, np.column_stack([np.full(4, 2.0), np.arange(3.0, 7.0)]))
    assert [name for name, _ in found.shifted] == ["const"]
