"""The alert policy: which anomalous beats raise an alert. Pure functions over state.

Two modes:

* ``beat`` (default): every anomalous beat raises an alert; no state.
* ``episode``: an alert when at least ``k`` of the last ``n`` beats of a stream are
  anomalous, then ``cooldown`` beats that are neither alerted nor counted; the window
  restarts empty after the cooldown, so one episode raises one alert and a long episode
  at most one alert per ``cooldown + k`` beats.

State is keyed by ``(partition, stream_id)``: it belongs to the partition that carries
the stream and is dropped when that partition is revoked. :func:`decide_batch` never
mutates the state it is given; it returns the updates, which the service applies only
after the batch's alerts are acknowledged, so a retried batch is decided from the same
state again and nothing is double-counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

StateKey = tuple[int, str]
"""(partition, stream_id)."""


@dataclass(frozen=True)
class PolicyConfig:
    """How alerts are raised (see the module docstring)."""

    mode: Literal["beat", "episode"] = "beat"
    k: int = 3
    n: int = 5
    cooldown: int = 10

    def __post_init__(self) -> None:
        if not 1 <= self.k <= self.n:
            raise ValueError(f"episode policy needs 1 <= k <= n, got k={self.k} n={self.n}")
        if self.cooldown < 0:
            raise ValueError(f"cooldown must be >= 0, got {self.cooldown}")


@dataclass(frozen=True)
class StreamState:
    """Episode state of one stream: recent anomaly flags and remaining cooldown beats."""

    recent: tuple[bool, ...] = ()
    cooldown: int = 0


EMPTY = StreamState()


@dataclass(frozen=True)
class Decision:
    """The policy's verdict on one beat."""

    alert: bool
    anomalous_in_window: int


def step(config: PolicyConfig, state: StreamState, anomalous: bool) -> tuple[StreamState, Decision]:
    """Advance one stream by one beat.

    Args:
        config: The policy.
        state: The stream's state before this beat.
        anomalous: Whether the model flagged this beat.

    Returns:
        The new state and the decision for this beat.
    """
    if config.mode == "beat":
        return state, Decision(anomalous, int(anomalous))
    if state.cooldown > 0:
        # Beats in the cooldown belong to the episode that already alerted: not counted.
        return StreamState((), state.cooldown - 1), Decision(False, int(anomalous))
    recent = (*state.recent, anomalous)[-config.n:]
    count = sum(recent)
    if count >= config.k:
        return StreamState((), config.cooldown), Decision(True, count)
    return StreamState(recent, 0), Decision(False, count)


def decide_batch(
    config: PolicyConfig,
    states: Mapping[StateKey, StreamState],
    beats: Sequence[tuple[StateKey, bool]],
) -> tuple[list[Decision], dict[StateKey, StreamState]]:
    """Decide a batch of beats, in order, without touching ``states``.

    Args:
        config: The policy.
        states: State before the batch.
        beats: ``((partition, stream_id), anomalous)`` in offset order per partition.

    Returns:
        One decision per beat and the new state of every stream the batch touched.
    """
    if config.mode == "beat":  # stateless: skip the per-stream bookkeeping
        return [Decision(a, int(a)) for _, a in beats], {}
    updates: dict[StateKey, StreamState] = {}
    decisions = []
    for key, anomalous in beats:
        before = updates.get(key) or states.get(key, EMPTY)
        after, decision = step(config, before, anomalous)
        decisions.append(decision)
        updates[key] = after
    return decisions, updates


@dataclass
class PolicyStates:
    """The service's policy state; changed only by applying a committed batch's updates."""

    states: dict[StateKey, StreamState] = field(default_factory=dict)

    def apply(self, updates: Mapping[StateKey, StreamState]) -> None:
        """Adopt the updates of a batch whose output was acknowledged."""
        self.states.update(updates)

    def drop_partitions(self, partitions: Iterable[int]) -> int:
        """Forget the streams of revoked partitions; returns how many were dropped."""
        gone = set(partitions)
        keys = [key for key in self.states if key[0] in gone]
        for key in keys:
            del self.states[key]
        return len(keys)
