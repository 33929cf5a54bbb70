"""ECG5000 loaders: formats, every bad-file case, the URL download, the seed's split."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from training import data as ecg
from training.data import DataError

ROW = ",".join(["0.5"] * 140)


def _csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_loads_seed_csv_format(tmp_path: Path) -> None:
    file = _csv(tmp_path / "ecg.csv", [ROW + ",1", ROW + ",0", ROW + ",1.0"])
    ds = ecg.load_file(file)
    assert ds.X.shape == (3, 140)
    assert ds.anomaly.tolist() == [False, True, False]
    assert ds.classes is None
    assert ds.sha256 == hashlib.sha256(file.read_bytes()).hexdigest()


def test_loads_ucr_tsv_format_with_five_classes(tmp_path: Path) -> None:
    values = "\t".join(["0.25"] * 140)
    file = tmp_path / "ECG5000_TRAIN.tsv"
    file.write_text("".join(f"{c}\t{values}\n" for c in (1, 2, 3, 4, 5)))
    ds = ecg.load_file(file)
    assert ds.classes is not None and ds.classes.tolist() == [1, 2, 3, 4, 5]
    assert ds.anomaly.tolist() == [False, True, True, True, True]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], "empty file"),
        ([ROW + ",1", ",".join(["0.5"] * 100) + ",1"],
         "ecg.csv:2: expected 141 columns, found 101"),
        ([ROW + ",1", ROW.replace("0.5", "abc", 1) + ",0"], "ecg.csv:2: non-numeric value 'abc'"),
        ([ROW.replace("0.5", "nan", 1) + ",1"], "ecg.csv:1: NaN or infinite value"),
        ([ROW.replace("0.5", "inf", 1) + ",1"], "ecg.csv:1: NaN or infinite value"),
        ([ROW + ",1", ROW + ",1", ROW + ",7"], "ecg.csv:3: unknown label 7"),
    ],
    ids=["empty", "columns", "non-numeric", "nan", "inf", "label"],
)
def test_bad_file_names_file_and_line(tmp_path: Path, lines: list[str], message: str) -> None:
    file = _csv(tmp_path / "ecg.csv", lines) if lines else tmp_path / "ecg.csv"
    if not lines:
        file.write_text("")
    with pytest.raises(DataError) as info:
        ecg.load_file(file)
    assert message in str(info.value)
    assert str(file) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.csv: no such file"):
        ecg.load_dataset(tmp_path / "nope.csv")


def test_unknown_ucr_class_names_line(tmp_path: Path) -> None:
    file = tmp_path / "x.tsv"
    file.write_text("1\t" + "\t".join(["0"] * 140) + "\n9\t" + "\t".join(["0"] * 140) + "\n")
    with pytest.raises(DataError, match=r"x\.tsv:2: unknown class 9 \(expected 1\.\.5\)"):
        ecg.load_file(file)


def test_binary_file_is_a_data_error(tmp_path: Path) -> None:
    file = tmp_path / "ecg.csv"
    file.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DataError, match="not a text file"):
        ecg.load_file(file)


def test_skip_bad_keeps_good_rows(tmp_path: Path) -> None:
    file = _csv(tmp_path / "ecg.csv", [ROW + ",1", "1,2,3", ROW + ",0"])
    rows, errors = ecg.iter_rows(file, skip_bad=True)
    assert [r.line for r in rows] == [1, 3]
    assert len(errors) == 1 and "ecg.csv:2" in str(errors[0])


def test_real_ecg5000_from_package() -> None:
    ds = ecg.load_dataset("ucr")
    assert ds.X.shape == (5000, 140)
    assert ds.classes is not None
    assert np.bincount(ds.classes).tolist() == [0, 2919, 1767, 96, 194, 24]
    assert int((~ds.anomaly).sum()) == 2919


def test_split_matches_sklearn_and_is_reproducible() -> None:
    from sklearn.model_selection import train_test_split

    n = 5000
    index = np.arange(n)
    rest, test = train_test_split(index, test_size=0.2, random_state=21)
    train, val = train_test_split(rest, test_size=0.25, random_state=21)
    ours = ecg.split_indices(n, 21)
    assert np.array_equal(ours["train"], train)
    assert np.array_equal(ours["val"], val)
    assert np.array_equal(ours["test"], test)
    again = ecg.split_indices(n, 21)
    assert all(np.array_equal(ours[k], again[k]) for k in ours)
    assert (len(train), len(val), len(test)) == (3000, 1000, 1000)
    assert not set(ours["test"]) & set(ours["train"])


def test_split_of_seed_csv_size_matches_notebook() -> None:
    # The notebook printed 2998 / 1000 / 1000 for its 4998 rows.
    parts = ecg.split_indices(4998, 21)
    assert (len(parts["train"]), len(parts["val"]), len(parts["test"])) == (2998, 1000, 1000)


class _Server:
    """A real local HTTP server serving one payload and counting requests."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.requests = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                self.send_response(200)
                self.send_header("Content-Length", str(len(outer.payload)))
                self.end_headers()
                self.wfile.write(outer.payload)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/ecg.csv"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[_Server]:
    monkeypatch.setenv("ECG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(ecg.SEED_SHA256_ENV, raising=False)
    srv = _Server(("\n".join([ROW + ",1", ROW + ",0"]) + "\n").encode())
    yield srv
    srv.httpd.shutdown()


def test_download_verifies_checksum_and_reuses_cache(server: _Server) -> None:
    digest = hashlib.sha256(server.payload).hexdigest()
    path = ecg.download_seed_csv(server.url, sha256=digest)
    assert path.read_bytes() == server.payload
    assert server.requests == 1
    again = ecg.download_seed_csv(server.url, sha256=digest)
    assert again == path and server.requests == 1  # served from the cache
    assert ecg.load_file(path).X.shape == (2, 140)


def test_download_checksum_mismatch(server: _Server) -> None:
    with pytest.raises(DataError, match="SHA-256 mismatch"):
        ecg.download_seed_csv(server.url, sha256="0" * 64)
    assert not (ecg.cache_dir() / "ecg.csv").exists()


def test_download_trust_on_first_use_then_verified(server: _Server) -> None:
    path = ecg.download_seed_csv(server.url)
    recorded = path.with_name("ecg.csv.sha256").read_text().strip()
    assert recorded == hashlib.sha256(server.payload).hexdigest()
    path.write_bytes(b"tampered")  # the cache no longer matches its record: re-download
    assert ecg.download_seed_csv(server.url).read_bytes() == server.payload
    assert server.requests == 2


def test_download_failure_is_a_data_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECG_CACHE_DIR", str(tmp_path))
    from producer.broker import free_port

    with pytest.raises(DataError, match="download failed"):
        ecg.download_seed_csv(f"http://127.0.0.1:{free_port()}/ecg.csv", timeout=2)
