"""The message contract of the stream: beats in, alerts out.

One definition, shared by the producer (which writes beats), the detector (which
reads beats and writes alerts) and the tests. Both messages are JSON objects; the
Kafka key of both is the ``stream_id`` so that one stream stays ordered in one
partition.

Decoding never raises: :func:`decode_beat` returns either a :class:`Beat` or an
:class:`Invalid` carrying one of the low-cardinality :data:`REASONS`, which is what
the dead-letter path and the ``*_invalid_total`` counter are labelled with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, ValidationError

WINDOW_LENGTH = 140
"""Samples per beat window (ECG5000)."""

SCHEMA_VERSION = 1
"""The only beat schema version this code understands."""

MAX_PAYLOAD_BYTES = 16_384
"""A 140-sample beat serialises to about 2 KiB; anything far bigger is not a beat."""

REASONS = (
    "oversized",
    "not_json",
    "unsupported_version",
    "wrong_length",
    "non_finite",
    "schema",
)
"""Every reason a beat can be dead-lettered for."""

Label = Literal["normal", "abnormal"]


class Beat(BaseModel):
    """One beat window on topic ``ecg.beats``.

    Attributes:
        v: Schema version; only ``1`` exists.
        stream_id: The monitored stream (patient, lead); also the Kafka key.
        seq: Position of the beat in its stream, from 0, increasing.
        ts_ms: Acquisition time of the beat, epoch milliseconds.
        samples: Exactly 140 finite numbers in the recording's units. The detector
            applies the model bundle's scaler itself.
        label: Optional ground truth, ``"normal"`` or ``"abnormal"``.
        beat_class: Optional ECG5000 class: 1 normal, 2 R-on-T PVC, 3 PVC,
            4 supraventricular premature, 5 unclassified.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    v: Literal[1] = 1
    stream_id: Annotated[str, Field(min_length=1, max_length=256)]
    seq: Annotated[int, Field(ge=0)]
    ts_ms: Annotated[int, Field(ge=0)]
    # FiniteFloat: NaN/Infinity (which Python's json and jiter accept) and 1e999 (which
    # overflows to inf) are rejected inside pydantic-core, with no Python loop per sample.
    samples: Annotated[
        list[FiniteFloat], Field(min_length=WINDOW_LENGTH, max_length=WINDOW_LENGTH)
    ]
    label: Label | None = None
    beat_class: Annotated[int, Field(ge=1, le=5)] | None = None


class Alert(BaseModel):
    """One alert on topic ``ecg.alerts`` (key = ``stream_id``).

    Attributes:
        stream_id: Stream of the anomalous beat.
        seq: Sequence number of the beat that raised the alert.
        ts_ms: Acquisition time of that beat (epoch ms).
        detected_at_ms: When the detector decided (epoch ms).
        score: Reconstruction error of the beat.
        threshold: The bundle's threshold the score passed.
        model_version: Version id of the bundle that scored it.
        segment_start: First sample of the window's worst-reconstructed segment.
        segment_end: One past the last sample of that segment.
        mode: Alert policy that raised it: ``"beat"`` or ``"episode"``.
        anomalous_in_window: Episode mode: anomalous beats among the last n.
        label: The beat's ground truth when it carried one.
    """

    model_config = ConfigDict(frozen=True)

    v: Literal[1] = 1
    stream_id: str
    seq: int
    ts_ms: int
    detected_at_ms: int
    score: float
    threshold: float
    model_version: str
    segment_start: int
    segment_end: int
    mode: Literal["beat", "episode"] = "beat"
    anomalous_in_window: int = 1
    label: Label | None = None


@dataclass(frozen=True, slots=True)
class Invalid:
    """Why a payload is not a beat: one of :data:`REASONS` plus a human detail."""

    reason: str
    detail: str


def decode_beat(payload: bytes | None) -> Beat | Invalid:
    """Decode and validate one Kafka record value.

    Args:
        payload: The raw record value (``None`` for a tombstone).

    Returns:
        The validated :class:`Beat`, or an :class:`Invalid` naming the reason.
        Never raises for any input.
    """
    if payload is None:
        return Invalid("schema", "record has no value")
    if len(payload) > MAX_PAYLOAD_BYTES:
        return Invalid("oversized", f"{len(payload)} bytes > {MAX_PAYLOAD_BYTES}")
    try:
        return Beat.model_validate_json(payload)
    except ValidationError as exc:
        return _classify(exc)
    except Exception as exc:
        return Invalid("schema", f"{type(exc).__name__}: {exc}")


def _classify(exc: ValidationError) -> Invalid:
    """Map pydantic's first error onto one reason (most specific first)."""
    errors = exc.errors(include_url=False, include_input=False)
    shown = errors[:3]
    detail = "; ".join(f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in shown)
    if len(errors) > 3:
        detail += f" (and {len(errors) - 3} more errors)"
    detail = detail[:500]
    types = {e["type"] for e in errors}
    locs = {e["loc"][0] if e["loc"] else "" for e in errors}
    if types & {"json_invalid", "json_type"}:
        return Invalid("not_json", detail)
    if "v" in locs:
        return Invalid("unsupported_version", detail)
    sample_errors = [e for e in errors if e["loc"] and e["loc"][0] == "samples"]
    if any(e["type"] in {"too_short", "too_long"} for e in sample_errors):
        return Invalid("wrong_length", detail)
    if any(e["type"] in {"finite_number"} for e in sample_errors):
        return Invalid("non_finite", detail)
    return Invalid("schema", detail)


def encode(message: BaseModel) -> bytes:
    """Serialise a contract message to compact JSON bytes."""
    return message.model_dump_json(exclude_none=True).encode()
