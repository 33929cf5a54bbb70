"""Spread beats over N synthetic streams, each with its own ``seq`` and ``ts_ms``.

Beat ``n`` of the replay goes to stream ``n mod N`` (round robin), so every stream
gets the same share and its ``seq`` runs 0, 1, 2, ... without gaps. ``ts_ms`` is the
wall-clock time at which the beat is emitted (the replay stands in for the
acquisition device), forced strictly increasing per stream. A single stream faster
than 1000 beats/s therefore runs ahead of the wall clock; paced replays never do.

Messages are the detector's own :class:`detector.contract.Beat` serialised by
``detector.contract.encode`` (one shared model). :class:`BeatEncoder` produces exactly
those bytes without re-serialising 140 samples per message: it cuts the model's own
encoding of each template at three sentinel values and fills in the stamp (see there).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import NamedTuple

from detector.contract import Beat, encode

WallClockMs = Callable[[], int]

STREAM_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,256}$")
"""Stream ids the replay generates: plain ASCII, so their JSON form is ``"id"``."""


def stream_ids(prefix: str, count: int) -> list[str]:
    """Stream ids ``{prefix}-000`` ... for ``count`` streams.

    Raises:
        ValueError: ``count`` < 1, or the prefix makes ids outside :data:`STREAM_ID_PATTERN`.
    """
    if count < 1:
        raise ValueError(f"need at least one stream, got {count}")
    width = max(3, len(str(count - 1)))
    ids = [f"{prefix}-{k:0{width}d}" for k in range(count)]
    if not all(STREAM_ID_PATTERN.match(i) for i in ids):
        raise ValueError(f"stream prefix {prefix!r} must match [A-Za-z0-9._:-] (and ids <= 256)")
    return ids


class Stamp(NamedTuple):
    """Where and when one beat belongs: its stream, position and acquisition time.

    A named tuple rather than a frozen dataclass: one is made per message, and a
    tuple is built in C (about 3x cheaper than a frozen dataclass's ``__init__``).
    """

    stream_id: str
    seq: int
    ts_ms: int


class Streams:
    """Round-robin assignment of beats to streams with per-stream ``seq`` and ``ts_ms``.

    Args:
        prefix: Stream id prefix.
        count: Number of streams.
        now_ms: Wall clock in epoch milliseconds (injectable for tests).
    """

    def __init__(self, prefix: str, count: int, now_ms: WallClockMs) -> None:
        self.ids = stream_ids(prefix, count)
        self._next_seq = [0] * count
        self._last_ts = [-1] * count
        self._now_ms = now_ms
        self._turn = 0

    def next(self) -> Stamp:
        """The stamp of the next beat (next stream in turn, its next seq, now)."""
        k = self._turn
        self._turn = (k + 1) % len(self.ids)
        ts = max(self._now_ms(), self._last_ts[k] + 1)
        seq = self._next_seq[k]
        self._next_seq[k] = seq + 1
        self._last_ts[k] = ts
        return Stamp(self.ids[k], seq, ts)

    def stamp(self, template: Beat) -> Beat:
        """The next beat as a model: ``template``'s samples and labels, the next stamp."""
        return apply_stamp(template, self.next())


def apply_stamp(template: Beat, stamp: Stamp) -> Beat:
    """``template`` with the stamp's three fields (valid by construction: no re-validation)."""
    return template.model_copy(
        update={"stream_id": stamp.stream_id, "seq": stamp.seq, "ts_ms": stamp.ts_ms}
    )


VERIFIED_TEMPLATES = 16
"""Templates whose cut is checked against ``encode`` on first use (see BeatEncoder)."""

# Sentinels put into a template's stamp fields to find where the encoding holds them.
_SID, _SEQ, _TS = "stream-id-sentinel-7f3a", 918273645546372819, 827364554637281946


class BeatEncoder:
    """``encode(apply_stamp(template, stamp))``, byte for byte, at a fraction of the cost.

    Serialising 140 floats is most of a message's cost, yet only the stamp changes
    between messages of one template. For each template the encoder asks the model
    once for the encoding of the template stamped with sentinel values and keeps the
    bytes around the three sentinels; a message is then those pieces joined with the
    stamp. Nothing about field names or order is assumed. A cut needs each sentinel
    exactly once in the encoding, so it can only sit in its own field; otherwise the
    template falls back to ``encode``. The first :data:`VERIFIED_TEMPLATES` cuts are
    also checked against ``encode`` with a real stamp (a contract change that renders
    the stamp differently, or derives other fields from it, shows in every template);
    after that a first use costs one ``encode`` instead of two, which is a tenth of
    a replay's time when each template is sent only a few times. Any failed check
    turns the checks on for every later template too.

    Args:
        templates: Validated beats whose stamp fields will be replaced.
    """

    def __init__(self, templates: list[Beat]) -> None:
        self.templates = templates
        self._parts: list[tuple[bytes, bytes, bytes, bytes] | None] = [None] * len(templates)
        self._checked = [False] * len(templates)
        self._ids: dict[str, bytes] = {}
        self._to_verify = VERIFIED_TEMPLATES
        self.fallbacks = 0

    def encode(self, index: int, stamp: Stamp) -> bytes:
        """The bytes of template ``index`` with ``stamp`` applied."""
        parts = self._parts[index]
        if parts is None:
            if self._checked[index]:
                return encode(apply_stamp(self.templates[index], stamp))
            return self._first_use(index, stamp)
        sid = self._ids.get(stamp.stream_id)
        if sid is None:
            sid = self._ids[stamp.stream_id] = _stream_id_json(stamp.stream_id)
        return b"".join((parts[0], sid, parts[1], str(stamp.seq).encode(), parts[2],
                         str(stamp.ts_ms).encode(), parts[3]))

    def _first_use(self, index: int, stamp: Stamp) -> bytes:
        self._checked[index] = True
        parts = _cut(self.templates[index])
        if parts is None or not STREAM_ID_PATTERN.match(stamp.stream_id):
            self.fallbacks += 1
            return encode(apply_stamp(self.templates[index], stamp))
        self._parts[index] = parts
        if self._to_verify <= 0:
            return self.encode(index, stamp)
        self._to_verify -= 1
        reference = encode(apply_stamp(self.templates[index], stamp))
        if self.encode(index, stamp) != reference:
            self._parts[index] = None
            self._to_verify = len(self.templates)  # the layout is not what the cut assumes
            self.fallbacks += 1
        return reference


def _stream_id_json(stream_id: str) -> bytes:
    if not STREAM_ID_PATTERN.match(stream_id):
        raise ValueError(f"stream id {stream_id!r} is outside [A-Za-z0-9._:-]")
    return json.dumps(stream_id).encode()


def _cut(template: Beat) -> tuple[bytes, bytes, bytes, bytes] | None:
    full = encode(apply_stamp(template, Stamp(_SID, _SEQ, _TS)))
    pieces: list[bytes] = []
    rest = full
    for sentinel in (json.dumps(_SID).encode(), str(_SEQ).encode(), str(_TS).encode()):
        if rest.count(sentinel) != 1:
            return None
        head, _, rest = rest.partition(sentinel)
        pieces.append(head)
    return pieces[0], pieces[1], pieces[2], rest
