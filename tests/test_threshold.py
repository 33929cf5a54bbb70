"""Threshold rules: each one against a hand computation or its defining property."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from training import threshold as th
from training.config import ThresholdConfig


def test_mean_std_is_mean_plus_k_population_std() -> None:
    errors = np.array([1.0, 2.0, 3.0, 4.0])
    assert th.mean_std(errors, 2.0) == pytest.approx(2.5 + 2 * np.sqrt(1.25))


def test_percentile_interpolates_like_numpy() -> None:
    errors = np.arange(1, 101, dtype=float)
    assert th.percentile(errors, 95) == pytest.approx(95.05)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=300),
    st.floats(0.001, 0.5),
)
def test_false_alarm_rate_never_exceeds_target(values: list[float], target: float) -> None:
    errors = np.array(values)
    t = th.false_alarm_rate(errors, target)
    assert np.mean(errors > t) <= target + 1e-12
    # ...and it is the tightest such observed value: one step lower would exceed it
    # (unless ties or the minimum make that impossible).
    lower = errors[errors < t]
    if lower.size:
        assert np.mean(errors > lower.max()) > target or np.mean(errors > lower.max()) == 0


def test_false_alarm_rate_example() -> None:
    errors = np.arange(100, dtype=float)
    assert th.false_alarm_rate(errors, 0.05) == 94.0  # flags 95..99: exactly 5 %


def _f1(errors: np.ndarray, labels: np.ndarray, t: float) -> float:
    p = errors > t
    tp = np.sum(p & labels)
    return float(2 * tp / (p.sum() + labels.sum()))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1, allow_nan=False), st.booleans()), min_size=2,
                max_size=200).filter(lambda rows: any(flag for _, flag in rows)))
def test_best_f1_is_the_maximum_over_all_cuts(rows: list[tuple[float, bool]]) -> None:
    errors = np.array([e for e, _ in rows])
    labels = np.array([flag for _, flag in rows])
    t, f1 = th.best_f1(errors, labels)
    brute = max(_f1(errors, labels, c) for c in np.r_[-1.0, errors])
    assert f1 == pytest.approx(brute)
    assert _f1(errors, labels, t) == pytest.approx(f1)


def test_best_f1_separable_threshold_in_the_gap() -> None:
    errors = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    labels = np.array([False, False, False, True, True])
    t, f1 = th.best_f1(errors, labels)
    assert f1 == 1.0 and t == pytest.approx(0.55)


def test_best_f1_requires_an_anomaly() -> None:
    with pytest.raises(ValueError, match="at least one anomalous"):
        th.best_f1(np.array([0.1, 0.2]), np.array([False, False]))


@pytest.mark.parametrize("bad", [np.array([]), np.array([0.1, np.nan])])
def test_rules_reject_empty_or_nonfinite(bad: np.ndarray) -> None:
    with pytest.raises(ValueError):
        th.mean_std(bad)


@pytest.mark.parametrize(
    ("rule", "params"),
    [("mean_std", {"k": 2.0}), ("percentile", {"q": 95.0}),
     ("false_alarm_rate", {"target": 0.01}), ("best_f1", None)],
)
def test_calibrate_records_rule_and_uses_the_right_split(rule: str, params: dict | None) -> None:
    rng = np.random.default_rng(0)
    train_normal = rng.gamma(2.0, 0.001, 500)
    val = np.r_[rng.gamma(2.0, 0.002, 300), rng.gamma(2.0, 0.02, 200)]
    val_anomaly = np.r_[np.zeros(300, bool), np.ones(200, bool)]
    spec = th.calibrate(ThresholdConfig(rule=rule), normal_train_errors=train_normal,
                        val_errors=val, val_anomaly=val_anomaly)
    assert spec.rule == rule
    expected = {
        "mean_std": th.mean_std(train_normal, 2.0),
        "percentile": th.percentile(train_normal, 95.0),
        "false_alarm_rate": th.false_alarm_rate(val[:300], 0.01),
        "best_f1": th.best_f1(val, val_anomaly)[0],
    }[rule]
    assert spec.value == pytest.approx(expected)
    if params is not None:
        assert spec.params == params
    else:
        assert 0 < spec.params["val_f1"] <= 1
