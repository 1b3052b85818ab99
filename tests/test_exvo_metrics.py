"""ExVo metrics against independent implementations (audmetric, scikit-learn) on random data."""

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, mean_absolute_error, recall_score

from emobench.downstream.exvo.metrics import all_metrics, ccc, mae, per_emotion_ccc, s_mtl, uar

audmetric = pytest.importorskip("audmetric")


def test_s_mtl_of_the_papers_compare_row():
    assert round(s_mtl(0.416, 0.506, 4.222), 3) == 0.349
    # the harmonic mean of CCC, UAR and 1/MAE, as scipy would compute it
    from scipy.stats import hmean
    assert s_mtl(0.548, 0.536, 4.008) == pytest.approx(hmean([0.548, 0.536, 1 / 4.008]))


@pytest.mark.parametrize("seed", range(5))
def test_ccc_matches_audmetric_and_population_moments(seed):
    rng = np.random.default_rng(seed)
    x = rng.random(200)
    y = 0.5 * x + 0.3 * rng.random(200) + rng.normal(0, 0.1)
    assert ccc(x, y) == pytest.approx(audmetric.concordance_cc(x, y), abs=1e-12)
    cov = np.cov(x, y, bias=True)[0, 1]
    assert ccc(x, y) == pytest.approx(2 * cov / (x.var() + y.var() + (x.mean() - y.mean()) ** 2))


@pytest.mark.parametrize("seed", range(5))
def test_uar_matches_audmetric_and_sklearn(seed):
    rng = np.random.default_rng(seed)
    truth = np.concatenate([np.arange(4), rng.integers(0, 4, 300)])  # every class present
    pred = np.where(rng.random(len(truth)) < 0.6, truth, rng.integers(0, 4, len(truth)))
    assert uar(truth, pred) == pytest.approx(balanced_accuracy_score(truth, pred), abs=1e-12)
    assert uar(truth, pred) == pytest.approx(recall_score(truth, pred, average="macro"),
                                             abs=1e-12)
    assert uar(truth, pred) == pytest.approx(
        audmetric.unweighted_average_recall(truth.tolist(), pred.tolist()), abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_mae_matches_sklearn_and_audmetric(seed):
    rng = np.random.default_rng(seed)
    age, pred = rng.uniform(18, 40, 100), rng.uniform(18, 40, 100)
    assert mae(age, pred) == pytest.approx(mean_absolute_error(age, pred), abs=1e-12)
    assert mae(age, pred) == pytest.approx(audmetric.mean_absolute_error(age, pred), abs=1e-12)


def test_constant_predictions_give_the_baseline_values():
    rng = np.random.default_rng(0)
    emotions = rng.random((50, 10))
    country = np.tile(np.arange(4), 13)[:50]
    m = all_metrics(emotions, np.tile(emotions.mean(0), (50, 1)), rng.uniform(18, 40, 50),
                    np.full(50, 29.0), country, np.zeros(50, dtype=int))
    assert m["ccc"] == pytest.approx(0.0, abs=1e-12) and m["uar"] == 0.25
    assert m["s_mtl"] == pytest.approx(0.0, abs=1e-9)


def test_per_emotion_ccc_is_columnwise_and_shapes_are_checked():
    rng = np.random.default_rng(1)
    t, p = rng.random((30, 3)), rng.random((30, 3))
    assert per_emotion_ccc(t, p).tolist() == [ccc(t[:, i], p[:, i]) for i in range(3)]
    with pytest.raises(ValueError):
        per_emotion_ccc(t, p[:, :2])
    with pytest.raises(ValueError):
        ccc([1.0, 2.0], [1.0])
