"""The statistics every report leans on: Holm's correction, t-intervals, the paired bootstrap
over test texts and seeds (its power, its false-positive rate, MCC), joint intervals."""

import numpy as np
import pytest

from textgnn.stats import holm, mean_ci, paired_bootstrap, score


def test_holm_matches_the_textbook_example():
    # p-values 0.01, 0.04, 0.03, 0.005 -> sorted 0.005*4, 0.01*3, 0.03*2, 0.04*1 (monotone)
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_mean_ci():
    mean, std, half = mean_ci([0.70, 0.72, 0.74])
    assert mean == pytest.approx(0.72) and std == pytest.approx(0.02)
    assert half == pytest.approx(4.302653 * 0.02 / np.sqrt(3), rel=1e-5)


def test_paired_bootstrap_detects_a_real_difference_only():
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 2, 400)
    same = np.stack([gold] * 3)
    tie = paired_bootstrap(gold, same, same)
    assert (tie.delta, tie.p, tie.interval()) == (0.0, 1.0, (0.0, 0.0))
    noisy = np.where(rng.random((3, 400)) < 0.3, 1 - gold, gold)
    better = np.where(rng.random((3, 400)) < 0.1, 1 - gold, gold)
    found = paired_bootstrap(gold, better, noisy)
    assert found.delta > 0.1 and found.p < 0.01
    low, high = found.interval()
    assert 0 < low < found.delta < high
    found = paired_bootstrap(gold, noisy, noisy[::-1])
    assert found.p > 0.05 and found.interval()[0] < 0 < found.interval()[1]


def test_paired_bootstrap_resamples_the_seeds_too():
    """One lucky seed: seed 0 of a makes 5 % errors, seeds 1 and 2 are b's own predictions
    (30 % errors). Over the 3 seeds a is 8 points better, far beyond what the test examples'
    chance explains, but a third of the seed resamples draw no seed 0 at all."""
    rng = np.random.default_rng(2)
    gold = rng.integers(0, 2, 2000)
    b = np.where(rng.random((3, 2000)) < 0.3, 1 - gold, gold)
    a = b.copy()
    a[0] = np.where(rng.random(2000) < 0.05, 1 - gold, gold)
    found = paired_bootstrap(gold, a, b)
    assert found.delta == pytest.approx((a == gold).mean() - (b == gold).mean())
    assert found.delta > 0.07
    # (2/3)^3 of the resamples hold no seed 0, and their difference is exactly 0
    assert (found.resampled == 0).mean() == pytest.approx((2 / 3) ** 3, abs=0.04)
    assert found.p > 0.5 and found.interval()[0] == 0.0
    # with the lucky seed's gap on every seed the test is significant: the seed resample is
    # what tells the two apart
    steady = np.stack([a[0]] * 3)
    assert paired_bootstrap(gold, steady, b).p < 0.001


def test_false_positives_stay_under_5_percent_when_seeds_vary():
    """Calibration under the null: two cells drawn from one distribution (texts of shared
    difficulty, each seed's error rate 25 % ± 3 points), 5 seeds, 300 test texts, 200 such
    pairs. The seed-and-text bootstrap calls fewer than 5 % of them significant; resampling
    the texts alone (the seeds' mean taken as exact, the study's first test) calls far more."""
    rng = np.random.default_rng(0)

    def cell(gold, hard):
        errors = [np.clip(0.25 + rng.normal(0, 0.03), 0.01, 0.99) for _ in range(5)]
        return np.stack([np.where(rng.random(gold.size) < np.clip(2 * e * hard, 0, 1), 1 - gold, gold)
                         for e in errors])

    both, texts_only = 0, 0
    for _ in range(200):
        gold, hard = rng.integers(0, 2, 300), rng.random(300)
        a, b = cell(gold, hard), cell(gold, hard)
        both += paired_bootstrap(gold, a, b, samples=500, seed=int(rng.integers(2 ** 31))).p < 0.05
        per_text = (a == gold).mean(0) - (b == gold).mean(0)
        resampled = per_text[rng.integers(0, 300, (500, 300))].mean(1)
        texts_only += 2 * min((resampled <= 0).mean(), (resampled >= 0).mean()) < 0.05
    assert both / 200 <= 0.05 and texts_only / 200 >= 0.15


def test_interval_is_joint_over_the_comparisons():
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 2, 300)
    a, b = (np.where(rng.random((5, 300)) < err, 1 - gold, gold) for err in (0.2, 0.25))
    found = paired_bootstrap(gold, a, b)
    one, eight = found.interval(), found.interval(8)
    assert eight[0] < one[0] < found.delta < one[1] < eight[1]
    assert one == pytest.approx(tuple(np.quantile(found.resampled, [0.025, 0.975])))
    assert eight == pytest.approx(tuple(np.quantile(found.resampled, [0.05 / 16, 1 - 0.05 / 16])))


def test_paired_bootstrap_on_mcc():
    from sklearn.metrics import matthews_corrcoef

    rng = np.random.default_rng(1)
    gold = np.array(["ok", "bad"])[rng.integers(0, 2, 300)]
    flip = {"ok": "bad", "bad": "ok"}
    noisy = np.stack([np.where(rng.random(300) < 0.35, [flip[g] for g in gold], gold)
                      for _ in range(3)])
    better = np.stack([np.where(rng.random(300) < 0.1, [flip[g] for g in gold], gold)
                       for _ in range(3)])
    same = np.stack([gold] * 3)
    tie = paired_bootstrap(gold, same, same, metric="mcc")
    assert (tie.delta, tie.p) == (0.0, 1.0)
    found = paired_bootstrap(gold, better, noisy, metric="mcc")
    expected = np.mean([matthews_corrcoef(gold, b) - matthews_corrcoef(gold, n)
                        for b, n in zip(better, noisy, strict=True)])
    assert found.delta == pytest.approx(expected, abs=1e-12) and found.delta > 0.3 and found.p < 0.01
    assert 0 < found.interval()[0] < found.delta
    all_ok = np.full((3, 300), "ok")  # MCC undefined: 0, as scikit-learn gives
    tie = paired_bootstrap(gold, all_ok, all_ok, metric="mcc")
    assert (tie.delta, tie.p) == (0.0, 1.0)
    assert paired_bootstrap(gold, noisy, all_ok, metric="mcc").delta == pytest.approx(
        np.mean([matthews_corrcoef(gold, n) for n in noisy]), abs=1e-12)
    # one prediction vector's score, as the bootstrap computes it
    assert score(gold, noisy[0], "mcc") == pytest.approx(matthews_corrcoef(gold, noisy[0]), abs=1e-12)
    assert score(gold, noisy[0], "accuracy") == pytest.approx(np.mean(noisy[0] == gold))
