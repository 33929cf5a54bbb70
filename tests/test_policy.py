"""The alert policy is pure: beat mode, episode mode, retries and partition revocation."""

from __future__ import annotations

import pytest

from detector.policy import EMPTY, PolicyConfig, PolicyStates, StreamState, decide_batch, step


def run(config: PolicyConfig, flags: list[bool]) -> list[bool]:
    state, out = EMPTY, []
    for flag in flags:
        state, decision = step(config, state, flag)
        out.append(decision.alert)
    return out


def test_beat_mode_alerts_every_anomalous_beat() -> None:
    flags = [True, False, True, True, False]
    assert run(PolicyConfig("beat"), flags) == flags


def test_episode_mode_needs_k_of_n() -> None:
    config = PolicyConfig("episode", k=3, n=5, cooldown=0)
    # Two anomalies in any five beats never alert; the third within five does.
    assert run(config, [True, False, True, False, False, False, True]) == [False] * 7
    assert run(config, [True, False, True, False, True]) == [False] * 4 + [True]


def test_one_episode_raises_one_alert_with_cooldown() -> None:
    config = PolicyConfig("episode", k=2, n=3, cooldown=5)
    alerts = run(config, [True] * 7)
    assert alerts == [False, True, False, False, False, False, False]
    # After the cooldown the window restarts empty: k fresh anomalies alert again.
    assert run(config, [True] * 9) == [False, True] + [False] * 5 + [False, True]


def test_decide_batch_does_not_touch_the_given_state() -> None:
    config = PolicyConfig("episode", k=2, n=3, cooldown=2)
    states = {(0, "a"): StreamState((True,), 0)}
    batch = [((0, "a"), True), ((1, "b"), True), ((0, "a"), True)]
    first, updates = decide_batch(config, states, batch)
    assert states == {(0, "a"): StreamState((True,), 0)}
    again, _ = decide_batch(config, states, batch)  # a retried batch decides the same
    assert first == again
    assert [d.alert for d in first] == [True, False, False]
    assert updates[(0, "a")] == StreamState((), 1)
    assert updates[(1, "b")] == StreamState((True,), 0)


def test_beat_mode_keeps_no_state() -> None:
    decisions, updates = decide_batch(PolicyConfig("beat"), {}, [((0, "a"), True)])
    assert decisions[0].alert and updates == {}


def test_revoked_partitions_drop_their_streams() -> None:
    store = PolicyStates()
    store.apply({(0, "a"): StreamState((True,)), (1, "b"): StreamState((True,)),
                 (2, "c"): StreamState()})
    assert store.drop_partitions([0, 2]) == 2
    assert set(store.states) == {(1, "b")}


@pytest.mark.parametrize(("k", "n", "cooldown"), [(0, 3, 1), (4, 3, 1), (1, 3, -1)])
def test_invalid_policy_is_refused(k: int, n: int, cooldown: int) -> None:
    with pytest.raises(ValueError, match=r"k|cooldown"):
        PolicyConfig("episode", k=k, n=n, cooldown=cooldown)
