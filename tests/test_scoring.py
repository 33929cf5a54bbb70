"""Pure scoring: scores, decisions and the worst segment, with fake models."""

from __future__ import annotations

import numpy as np
import pytest

from detector.bundle import ScalerParams
from detector.scoring import SEGMENT_LENGTH, score_windows

W = 140
IDENTITY = ScalerParams(kind="minmax", center=[0.0] * W, scale=[1.0] * W)


def zeros(scaled: np.ndarray) -> np.ndarray:
    """A 'model' that reconstructs every window as all zeros."""
    return np.zeros_like(scaled)


def test_score_is_mean_squared_error_in_scaled_space() -> None:
    scaler = ScalerParams(kind="standard", center=[1.0] * W, scale=[2.0] * W)
    windows = np.full((3, W), 5.0)  # scaled: (5 - 1) / 2 = 2 -> squared error 4
    result = score_windows(windows, scaler=scaler, reconstruct=zeros, threshold=3.9)
    np.testing.assert_allclose(result.scores, [4.0, 4.0, 4.0])
    assert result.anomalous.tolist() == [True, True, True]


def test_threshold_is_strict() -> None:
    windows = np.ones((1, W))
    result = score_windows(windows, scaler=IDENTITY, reconstruct=zeros, threshold=1.0)
    assert result.scores[0] == pytest.approx(1.0)
    assert not result.anomalous[0]


def test_worst_segment_covers_the_error() -> None:
    windows = np.zeros((2, W))
    windows[0, 100:110] = 3.0  # all error inside samples 100..109
    windows[1, 0:5] = 1.0
    result = score_windows(windows, scaler=IDENTITY, reconstruct=zeros, threshold=1.0)
    start, end = result.segment_start, result.segment_end
    assert (end - start == SEGMENT_LENGTH).all()
    assert start[0] <= 100 and end[0] >= 110
    assert start[1] == 0
    assert (end <= W).all()


def test_rows_are_scored_independently() -> None:
    rng = np.random.default_rng(0)
    windows = rng.normal(size=(50, W))
    batch = score_windows(windows, scaler=IDENTITY, reconstruct=zeros, threshold=1.0)
    single = [
        score_windows(w[None, :], scaler=IDENTITY, reconstruct=zeros, threshold=1.0).scores[0]
        for w in windows
    ]
    np.testing.assert_allclose(batch.scores, single)


def test_empty_batch() -> None:
    result = score_windows(np.zeros((0, W)), scaler=IDENTITY, reconstruct=zeros, threshold=1.0)
    assert len(result) == 0


def test_rejects_one_dimensional_input() -> None:
    with pytest.raises(ValueError, match="2-D"):
        score_windows(np.zeros(W), scaler=IDENTITY, reconstruct=zeros, threshold=1.0)
