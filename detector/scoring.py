"""Pure scoring: a batch of raw beat windows in, scores and decisions out.

No Kafka and no metrics in here. :func:`score_windows` is the whole computation;
:class:`BundleScorer` binds it to a bundle's scaler, threshold and LiteRT model, and
:class:`Scorer` is the protocol the service depends on, so tests can inject a fake.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from detector.bundle import Bundle, ScalerParams

SEGMENT_LENGTH = 20
"""Samples in the "worst segment" reported with an alert (~1/7 of a beat)."""


@dataclass(frozen=True)
class Scores:
    """Scores of one batch, aligned with its input rows.

    Attributes:
        scores: Reconstruction error (mean squared error in scaled space), float64.
        anomalous: ``scores > threshold``.
        segment_start: First sample of the segment whose reconstruction error is largest.
        segment_end: One past its last sample.
    """

    scores: np.ndarray
    anomalous: np.ndarray
    segment_start: np.ndarray
    segment_end: np.ndarray

    def __len__(self) -> int:
        return int(self.scores.shape[0])


class Scorer(Protocol):
    """What the service needs from a model: a version, a threshold and batch scoring."""

    @property
    def model_version(self) -> str:
        """Version id of the model, copied into every alert."""
        ...

    @property
    def threshold(self) -> float:
        """Scores strictly above this are anomalous."""
        ...

    def score(self, windows: np.ndarray) -> Scores:
        """Score raw windows of shape (n, window_length)."""
        ...


Reconstruct = Callable[[np.ndarray], np.ndarray]


def score_windows(
    windows: np.ndarray,
    *,
    scaler: ScalerParams,
    reconstruct: Reconstruct,
    threshold: float,
    segment: int = SEGMENT_LENGTH,
) -> Scores:
    """Score a batch of raw windows.

    Args:
        windows: Raw samples, shape (n, window_length), in the recording's units.
        scaler: The bundle's scaler, applied before the model.
        reconstruct: The autoencoder: scaled float32 (n, w) -> reconstruction (n, w).
        threshold: Decision threshold on the score.
        segment: Length of the worst segment to locate.

    Returns:
        The :class:`Scores` of the batch (empty arrays for an empty batch).
    """
    if windows.ndim != 2:
        raise ValueError(f"windows must be 2-D (n, samples), got shape {windows.shape}")
    n, width = windows.shape
    if n == 0:
        empty_i = np.zeros(0, dtype=np.int64)
        return Scores(np.zeros(0), np.zeros(0, dtype=bool), empty_i, empty_i)
    scaled = scaler.transform(windows)
    squared = squared_errors(scaled, reconstruct(scaled))
    scores = squared.mean(axis=1)
    seg = min(segment, width)
    # Moving sum over `seg` samples via the cumulative sum: O(n * width), no Python loop.
    csum = np.cumsum(squared, axis=1)
    csum = np.concatenate([np.zeros((n, 1)), csum], axis=1)
    start = np.argmax(csum[:, seg:] - csum[:, :-seg], axis=1).astype(np.int64)
    return Scores(scores, scores > threshold, start, start + seg)


def squared_errors(scaled: np.ndarray, reconstruction: np.ndarray) -> np.ndarray:
    """Per-sample squared reconstruction error, float64, shape (n, window)."""
    return np.square(np.asarray(scaled, np.float64) - np.asarray(reconstruction, np.float64))


def reconstruction_error(scaled: np.ndarray, reconstruction: np.ndarray) -> np.ndarray:
    """The anomaly score of each window: mean squared error in scaled space (float64).

    Training calibrates the threshold on exactly this function, so served scores and the
    threshold always mean the same thing.
    """
    return squared_errors(scaled, reconstruction).mean(axis=1)


def make_interpreter(model: bytes) -> Any:
    """Create a LiteRT interpreter for a serialized ``.tflite`` model."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model, num_threads=1)
    interpreter.allocate_tensors()
    return interpreter


class LiteRTModel:
    """A LiteRT autoencoder callable on batches of any size (one ``invoke`` per batch)."""

    def __init__(self, model: bytes) -> None:
        self._interpreter = make_interpreter(model)
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._batch = -1

    def __call__(self, scaled: np.ndarray) -> np.ndarray:
        """Reconstruct scaled windows of shape (n, w); returns a new array."""
        if scaled.shape[0] != self._batch:
            # Resizing and re-allocating costs ~0.1 ms, far less than a batch.
            self._interpreter.resize_tensor_input(self._input, list(scaled.shape))
            self._interpreter.allocate_tensors()
            self._batch = scaled.shape[0]
        self._interpreter.set_tensor(self._input, np.ascontiguousarray(scaled, np.float32))
        self._interpreter.invoke()
        return np.array(self._interpreter.get_tensor(self._output))


class BundleScorer:
    """The production :class:`Scorer`: a bundle's scaler, threshold and LiteRT model."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self._model = LiteRTModel(bundle.tflite_model)

    @property
    def model_version(self) -> str:
        return self.bundle.version

    @property
    def threshold(self) -> float:
        return self.bundle.threshold

    def score(self, windows: np.ndarray) -> Scores:
        return score_windows(
            windows,
            scaler=self.bundle.manifest.scaler,
            reconstruct=self._model,
            threshold=self.bundle.threshold,
        )
