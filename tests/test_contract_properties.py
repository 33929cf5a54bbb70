"""Property-based tests of the beat decoder: it never raises and always names a reason."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from detector.contract import (
    MAX_PAYLOAD_BYTES,
    REASONS,
    WINDOW_LENGTH,
    Alert,
    Beat,
    Invalid,
    decode_beat,
    encode,
)

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | finite | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=5),
    max_leaves=20,
)


def valid_beat() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "stream_id": st.text(min_size=1, max_size=30),
            "seq": st.integers(min_value=0, max_value=2**53),
            "ts_ms": st.integers(min_value=0, max_value=2**45),
            "samples": st.lists(finite, min_size=WINDOW_LENGTH, max_size=WINDOW_LENGTH),
        },
        optional={"label": st.sampled_from(["normal", "abnormal"]),
                  "beat_class": st.integers(1, 5), "extra": json_values},
    )


def check(payload: bytes | None) -> Beat | Invalid:
    result = decode_beat(payload)
    assert isinstance(result, Beat | Invalid)
    if isinstance(result, Invalid):
        assert result.reason in REASONS and result.detail
    return result


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=4096))
def test_random_bytes_never_raise(payload: bytes) -> None:
    check(payload)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_random_json_never_raises(value: Any) -> None:
    assert isinstance(check(json.dumps(value).encode()), Invalid)


@settings(max_examples=100, deadline=None)
@given(valid_beat())
def test_valid_beats_round_trip(raw: dict[str, Any]) -> None:
    beat = check(json.dumps(raw).encode())
    assert isinstance(beat, Beat)
    assert beat.samples == raw["samples"] and beat.seq == raw["seq"]
    assert decode_beat(encode(beat)) == beat


@settings(max_examples=100, deadline=None)
@given(valid_beat(), st.integers(0, WINDOW_LENGTH * 2).filter(lambda n: n != WINDOW_LENGTH))
def test_wrong_length_is_named(raw: dict[str, Any], length: int) -> None:
    samples = (raw["samples"] * 2)[:length]
    result = check(json.dumps({**raw, "samples": samples}).encode())
    assert isinstance(result, Invalid) and result.reason == "wrong_length"


@settings(max_examples=100, deadline=None)
@given(valid_beat(), st.integers(0, WINDOW_LENGTH - 1),
       st.sampled_from([math.nan, math.inf, -math.inf]))
def test_non_finite_is_named(raw: dict[str, Any], index: int, bad: float) -> None:
    raw["samples"][index] = bad
    result = check(json.dumps(raw).encode())  # json writes NaN / Infinity
    assert isinstance(result, Invalid) and result.reason == "non_finite"


@settings(max_examples=100, deadline=None)
@given(valid_beat(), st.integers(2, 1000))
def test_unknown_version_is_named(raw: dict[str, Any], version: int) -> None:
    result = check(json.dumps({**raw, "v": version}).encode())
    assert isinstance(result, Invalid) and result.reason == "unsupported_version"


@settings(max_examples=100, deadline=None)
@given(valid_beat(), st.sampled_from(["stream_id", "seq", "ts_ms"]))
def test_missing_field_is_schema(raw: dict[str, Any], missing: str) -> None:
    del raw[missing]
    result = check(json.dumps(raw).encode())
    assert isinstance(result, Invalid) and result.reason == "schema"


@settings(max_examples=50, deadline=None)
@given(valid_beat(), st.binary(min_size=1, max_size=64))
def test_truncated_or_garbage_suffix_is_invalid(raw: dict[str, Any], junk: bytes) -> None:
    payload = json.dumps(raw).encode()
    check(payload[: len(payload) // 2])
    check(payload + junk)


def test_oversized_and_tombstone() -> None:
    big = check(b"[" + b"1," * MAX_PAYLOAD_BYTES + b"1]")
    assert isinstance(big, Invalid) and big.reason == "oversized"
    tomb = check(None)
    assert isinstance(tomb, Invalid) and tomb.reason == "schema"


def test_alert_json_example() -> None:
    alert = Alert(stream_id="p1", seq=3, ts_ms=1, detected_at_ms=2, score=0.02, threshold=0.006,
                  model_version="v", segment_start=40, segment_end=60)
    assert json.loads(encode(alert))["segment_end"] == 60
