"""Detection metrics (anomaly positive) against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from training.evaluate import detection_metrics, pr_auc, roc_auc, roc_curve

labelled = st.lists(
    st.tuples(st.sampled_from([0.0, 0.1, 0.2, 0.5, 0.7, 1.0, 2.0]) | st.floats(0, 3),
              st.booleans()),
    min_size=2, max_size=200,
).filter(lambda rows: len({flag for _, flag in rows}) == 2)


@settings(max_examples=80, deadline=None)
@given(labelled)
def test_aucs_match_sklearn_with_ties(rows: list[tuple[float, bool]]) -> None:
    scores = np.array([s for s, _ in rows])
    y = np.array([f for _, f in rows])
    assert roc_auc(y, scores) == pytest.approx(skm.roc_auc_score(y, scores), abs=1e-12)
    assert pr_auc(y, scores) == pytest.approx(skm.average_precision_score(y, scores), abs=1e-12)


def test_roc_curve_matches_sklearn() -> None:
    rng = np.random.default_rng(1)
    y = rng.random(300) < 0.4
    s = np.round(rng.random(300) + y * 0.5, 2)
    fpr, tpr = roc_curve(y, s)
    sk_fpr, sk_tpr, _ = skm.roc_curve(y, s, drop_intermediate=False)
    assert np.allclose(fpr, sk_fpr) and np.allclose(tpr, sk_tpr)


def test_detection_metrics_match_sklearn_with_anomaly_positive() -> None:
    rng = np.random.default_rng(2)
    classes = rng.choice([1, 2, 3, 4, 5], size=500, p=[0.55, 0.3, 0.05, 0.07, 0.03])
    y = classes != 1
    scores = rng.gamma(2.0, 1.0, 500) + y * 2.0
    threshold = 3.0
    m = detection_metrics(y, scores, threshold, classes)
    pred = scores > threshold
    tn, fp, fn, tp = skm.confusion_matrix(y, pred, labels=[False, True]).ravel()
    assert m["confusion"] == {"tp": tp, "fp": fp, "tn": tn, "fn": fn}
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["precision"] == pytest.approx(skm.precision_score(y, pred))
    assert m["recall"] == pytest.approx(skm.recall_score(y, pred))
    assert m["specificity"] == pytest.approx(skm.recall_score(~y, ~pred))
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, scores))
    assert m["pr_auc"] == pytest.approx(skm.average_precision_score(y, scores))
    assert m["false_alarm_rate"] == pytest.approx(fp / (fp + tn))
    for cls in ("2", "3", "4", "5"):
        mask = classes == int(cls)
        assert m["per_class_recall"][cls]["recall"] == pytest.approx(pred[mask].mean())
        assert m["per_class_recall"][cls]["n"] == mask.sum()
    assert "1" not in m["per_class_recall"]


def test_flipped_direction_gives_the_notebooks_low_auc() -> None:
    # The notebook scored "normal" as positive with the error as score: AUC ~ 1 - true AUC.
    rng = np.random.default_rng(3)
    y = rng.random(400) < 0.45
    scores = rng.random(400) + y
    assert roc_auc(y, scores) > 0.9
    assert roc_auc(~y, scores) == pytest.approx(1 - roc_auc(y, scores))


def test_no_classes_and_degenerate_cases() -> None:
    m = detection_metrics(np.array([True, False]), np.array([0.9, 0.1]), 0.5)
    assert m["per_class_recall"] == {} and m["f1"] == 1.0
    none_flagged = detection_metrics(np.array([True, False]), np.array([0.2, 0.1]), 0.5)
    assert none_flagged["precision"] == 0.0 and none_flagged["f1"] == 0.0
    with pytest.raises(ValueError, match="labels for"):
        detection_metrics(np.array([True]), np.array([0.1, 0.2]), 0.5)
