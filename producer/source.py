"""Where the replayed beats come from: a dataset, one split of it, in some order.

Uses the training package's numpy-only loaders, so the replay sees exactly the rows
and the split the model was trained and evaluated on. Each row becomes one validated
:class:`detector.contract.Beat` template; the stream fields are stamped later.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from detector.contract import Beat
from training.data import DataError, Dataset, load_dataset, read_file, split_indices

NAMED_SOURCES = ("auto", "ucr", "url")
PLACEHOLDER_STREAM = "-"


@dataclass(frozen=True)
class ReplaySource:
    """The beats to replay, in replay order.

    Attributes:
        templates: One validated beat per row (stream fields are placeholders).
        source: Where the rows came from.
        skipped: Malformed rows skipped with ``skip_bad`` (each names file and line).
    """

    templates: list[Beat]
    source: str
    skipped: list[DataError] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.templates)


def read_dataset(source: str, *, skip_bad: bool) -> tuple[Dataset, list[DataError]]:
    """Load the whole dataset named by ``source``.

    Args:
        source: A CSV/TSV path, or one of ``auto``, ``ucr``, ``url``.
        skip_bad: For a file, skip malformed rows and return them instead of raising.

    Raises:
        DataError: The source is missing or, without ``skip_bad``, a row is malformed.
    """
    if source in NAMED_SOURCES:
        return load_dataset(source), []
    return read_file(source, skip_bad=skip_bad)


def replay_order(
    n: int, *, split: str, split_seed: int, order: str, seed: int
) -> np.ndarray:
    """Row indices of ``split`` in file order, or shuffled with ``seed``."""
    if split not in ("all", "train", "val", "test"):
        raise ValueError(f"unknown split {split!r}")
    index = np.sort(split_indices(n, split_seed)[split])
    if order == "shuffle":
        return np.random.default_rng(seed).permutation(index)
    if order != "file":
        raise ValueError(f"unknown order {order!r}")
    return index


def templates(data: Dataset, index: np.ndarray, *, labels: bool) -> list[Beat]:
    """One validated beat per selected row; labels and classes only when asked and known."""
    out: list[Beat] = []
    for i in index.tolist():
        label = ("abnormal" if data.anomaly[i] else "normal") if labels else None
        beat_class = int(data.classes[i]) if labels and data.classes is not None else None
        out.append(
            Beat(
                stream_id=PLACEHOLDER_STREAM, seq=0, ts_ms=0,
                samples=data.X[i].tolist(), label=label, beat_class=beat_class,
            )
        )
    return out


def load_replay_source(
    source: str,
    *,
    split: str = "all",
    split_seed: int = 21,
    order: str = "file",
    seed: int = 0,
    labels: bool = True,
    skip_bad: bool = False,
) -> ReplaySource:
    """Load, split and order the beats of a replay (see :class:`ReplaySource`)."""
    data, skipped = read_dataset(source, skip_bad=skip_bad)
    index = replay_order(len(data), split=split, split_seed=split_seed, order=order, seed=seed)
    return ReplaySource(templates(data, index, labels=labels), data.source, skipped)
