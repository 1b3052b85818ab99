"""Metrics, class weights and loss against direct transcriptions of EMO-SUPERB's formulas."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from emobench.corpora.emotion_labels import smooth
from emobench.downstream.emotion.loss import class_balanced_weights, soft_label_loss
from emobench.downstream.emotion.metrics import (accuracy, best_constant_probs, label_sets, macro_f1,
                                        paper_batch_macro_f1, per_class_f1)


def soft_labels(rng: np.random.Generator, n: int, c: int, raters: int = 5) -> np.ndarray:
    """Smoothed vote fractions with a skewed class distribution, like a real corpus."""
    prior = rng.dirichlet(np.ones(c) * 0.8)
    votes = np.stack([np.bincount(rng.choice(c, raters, p=prior), minlength=c) for _ in range(n)])
    return smooth(votes / raters)


def test_smoothing_one_hot_c9():
    y = smooth(np.eye(9)[3])
    assert y[3] == 0.95
    assert np.all(np.delete(y, 3) == 0.00625)


def test_class_weights_match_direct_transcription():
    rng = np.random.default_rng(0)
    y = soft_labels(rng, 300, 6)
    n, c = y.shape
    positives = [sum(1 for row in y if row[k] > 1 / c) for k in range(c)]
    beta = (n - 1) / n
    raw = [(1 - beta) / (1 - beta ** positives[k]) for k in range(c)]
    expected = [w / sum(raw) * c for w in raw]
    np.testing.assert_allclose(class_balanced_weights(y), expected, rtol=1e-12)


def test_class_without_positives_gets_zero_weight_not_a_division_by_zero():
    y = smooth(np.eye(4)[[0, 0, 1, 2, 2, 2]])  # class 3 never positive
    w = class_balanced_weights(y)
    assert np.all(np.isfinite(w)) and w[3] == 0.0
    assert w.sum() == pytest.approx(4.0)


def test_loss_matches_direct_transcription():
    rng = np.random.default_rng(1)
    y = soft_labels(rng, 16, 5)
    w = class_balanced_weights(soft_labels(rng, 100, 5))
    logits = rng.normal(size=(16, 5))
    expected = 0.0
    for i in range(16):
        log_z = math.log(sum(math.exp(v) for v in logits[i]))
        s_i = sum(w[k] * y[i, k] for k in range(5))
        expected += -s_i * sum(y[i, k] * (logits[i, k] - log_z) for k in range(5))
    expected /= 16
    got = soft_label_loss(torch.tensor(logits), torch.tensor(y), torch.tensor(w))
    assert float(got) == pytest.approx(expected, rel=1e-10)


def test_perfect_predictor_scores_one_over_the_split_but_not_batch_averaged():
    rng = np.random.default_rng(2)
    y = soft_labels(rng, 500, 9)
    assert set(np.flatnonzero(label_sets(y).any(axis=0))) == set(range(9))
    assert macro_f1(y, y) == 1.0
    assert accuracy(y, y) == 1.0
    assert paper_batch_macro_f1(y, y) < 1.0  # classes absent from a batch score 0 there


def test_macro_f1_is_sklearn_on_threshold_sets():
    rng = np.random.default_rng(3)
    y = soft_labels(rng, 200, 6)
    p = rng.dirichlet(np.ones(6), size=200)
    expected = f1_score(y > 1 / 6, p > 1 / 6, average="macro", zero_division=0)
    assert macro_f1(y, p) == pytest.approx(expected)
    assert per_class_f1(y, p).mean() == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(5))
def test_best_constant_is_the_best_over_all_constant_prediction_sets(seed):
    rng = np.random.default_rng(seed)
    c = 5
    y = soft_labels(rng, 60, c)
    brute = 0.0
    for k in range(c):  # a probability vector puts at most C - 1 classes above 1/C
        for subset in itertools.combinations(range(c), k):
            pred = np.zeros((len(y), c), dtype=bool)
            pred[:, list(subset)] = True
            brute = max(brute, f1_score(label_sets(y), pred, average="macro", zero_division=0))
    constant = np.tile(best_constant_probs(y), (len(y), 1))
    assert constant[0].sum() == pytest.approx(1.0)
    assert macro_f1(y, constant) == pytest.approx(brute)
    majority = np.bincount(y.argmax(axis=1), minlength=c).max() / len(y)
    assert accuracy(y, constant) == pytest.approx(majority)
