"""Fine-tuning metrics against hand-computed values."""

import pytest

from albert_tf.finetuning import metrics


def test_f1_of_the_positive_class():
    # tp=2, fp=1, fn=1 → precision 2/3, recall 2/3.
    assert metrics.f1([1, 1, 1, 0, 0], [1, 1, 0, 1, 0]) == pytest.approx(2 / 3)


def test_matthews_correlation_by_hand():
    # tp=2, tn=1, fp=1, fn=1: (2·1 − 1·1) / sqrt(3·3·2·2) = 1/6.
    assert metrics.matthews_corr([1, 1, 1, 0, 0], [1, 1, 0, 1, 0]) == pytest.approx(1 / 6)


def test_matthews_correlation_is_zero_when_one_class_is_never_predicted():
    assert metrics.matthews_corr([1, 0, 1], [0, 0, 0]) == 0.0


def test_pearson_by_hand():
    # x = [1, 2, 3], y = [1, 3, 2]: covariance sum 1, variances 2 and 2 → 1/2.
    assert metrics.pearson([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)


def test_spearman_gives_ties_their_average_rank():
    # ranks of [1, 2, 2, 3] are [1, 2.5, 2.5, 4]; against [1, 2, 3, 4]: r = 4.5 / sqrt(4.5 · 5).
    assert metrics.spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(4.5 / (4.5 * 5) ** 0.5)
