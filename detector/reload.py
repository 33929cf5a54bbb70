"""Hot reload: notice that the bundle on disk changed and swap the model between batches.

``training/export.py`` replaces a bundle directory by rename, so a change shows as a
new inode, mtime or size of ``bundle.json``. A changed bundle is loaded and validated
with :func:`detector.bundle.load_bundle`; on success the new scorer serves from the
next batch, on failure the old one keeps serving and the failure is logged and
exported (``model_reloads_total{outcome="failure"}``, ``model_reload_failed`` = 1).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from detector.bundle import MANIFEST_FILE, Bundle, BundleError, load_bundle
from detector.metrics import DetectorMetrics
from detector.scoring import BundleScorer, Scorer

log = logging.getLogger(__name__)

Signature = tuple[int, int, int, int]


def signature(bundle_dir: Path) -> Signature | None:
    """Identity of the bundle's manifest file (device, inode, mtime, size), or None."""
    try:
        st = os.stat(bundle_dir / MANIFEST_FILE)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


class ModelReloader:
    """Holds the serving scorer and replaces it when the bundle directory changes.

    Args:
        bundle_dir: The configured bundle path.
        scorer: The scorer serving now (built from ``bundle_dir``).
        metrics: Where reload outcomes go.
        interval_s: Minimum seconds between two checks.
        build: Makes a scorer from a loaded bundle (tests may inject another).
        clock: Monotonic clock.
    """

    def __init__(
        self,
        bundle_dir: Path,
        scorer: Scorer,
        metrics: DetectorMetrics,
        interval_s: float,
        build: Callable[[Bundle], Scorer] = BundleScorer,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bundle_dir = bundle_dir
        self.scorer = scorer
        self._metrics = metrics
        self._interval_s = interval_s
        self._build = build
        self._clock = clock
        self._seen = signature(bundle_dir)
        self._next_check = clock() + interval_s
        metrics.set_model(scorer.model_version, scorer.threshold)
        metrics.model_reload_failed.set(0)

    def maybe_reload(self) -> bool:
        """Check the bundle if the interval has passed; returns True if the model changed."""
        now = self._clock()
        if now < self._next_check:
            return False
        self._next_check = now + self._interval_s
        return self.check()

    def check(self) -> bool:
        """Check the bundle now; returns True if a new model was swapped in."""
        current = signature(self.bundle_dir)
        if current is None or current == self._seen:
            # None: missing, or between the two renames of an export; look again later.
            return False
        self._seen = current
        try:
            scorer = self._build(load_bundle(self.bundle_dir))
        except (BundleError, OSError, ValueError, RuntimeError) as exc:
            log.error("model reload refused, still serving %s: %s",
                      self.scorer.model_version, exc)
            self._metrics.model_reloads.labels(outcome="failure").inc()
            self._metrics.model_reload_failed.set(1)
            return False
        old = self.scorer.model_version
        self.scorer = scorer
        self._metrics.model_reloads.labels(outcome="success").inc()
        self._metrics.model_reload_failed.set(0)
        self._metrics.set_model(scorer.model_version, scorer.threshold)
        log.info("model reloaded from %s: %s -> %s (threshold %.6g)",
                 self.bundle_dir, old, scorer.model_version, scorer.threshold)
        return True
