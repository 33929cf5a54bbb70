"""Kafka connection security: the settings fields, their check and the client options.

One piece shared by the detector's and the replay producer's settings
(``DetectorSettings``, ``ReplaySettings``), which inherit :class:`KafkaSecurity`; each
reads the fields from its own environment prefix (``ECG_DETECTOR_``, ``ECG_REPLAY_``).
The password is a ``SecretStr``: its value only leaves the model in
:meth:`KafkaSecurity.security_kwargs`, handed straight to the Kafka client.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, SecretStr

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

_SSL_FILES = ("ssl_cafile", "ssl_certfile", "ssl_keyfile")


class KafkaSecurity(BaseModel):
    """Security fields of a Kafka client's settings (a mixin of a ``BaseSettings``).

    The inheriting settings class's ``model_validator`` must report
    :meth:`security_problems` together with its own problems, so that one error names
    every problem at once.
    """

    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_check_hostname: bool = True

    def security_problems(self) -> list[str]:
        """Every inconsistency of the security fields, each naming the fields involved."""
        problems = []
        protocol = self.security_protocol
        sasl = protocol.startswith("SASL_")
        if sasl and self.sasl_mechanism is None:
            problems.append(f"security_protocol {protocol} needs sasl_mechanism")
        if sasl and not (self.sasl_username and self.sasl_password):  # empty counts as missing
            problems.append(f"security_protocol {protocol} needs sasl_username and "
                            "sasl_password")
        if not sasl and self.sasl_mechanism is not None:
            problems.append(f"sasl_mechanism is set but security_protocol is {protocol}")
        for name in _SSL_FILES:
            path = getattr(self, name)
            if path is not None and not path.is_file():
                problems.append(f"{name}: {path} is not a readable file")
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            problems.append("ssl_certfile and ssl_keyfile must be given together")
        return problems

    def security_kwargs(self) -> dict[str, Any]:
        """kafka-python keyword arguments for these fields (consumers and producers).

        SASL options are passed only for the ``SASL_*`` protocols, TLS options only for
        ``SSL`` and ``SASL_SSL``.
        """
        kwargs: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.security_protocol.startswith("SASL_"):
            assert self.sasl_password is not None  # checked by security_problems
            kwargs |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.sasl_username,
                "sasl_plain_password": self.sasl_password.get_secret_value(),
            }
        if self.security_protocol in ("SSL", "SASL_SSL"):
            kwargs["ssl_check_hostname"] = self.ssl_check_hostname
            for name in _SSL_FILES:
                path = getattr(self, name)
                if path is not None:
                    kwargs[name] = str(path)
        return kwargs


def add_security_flags(parser: argparse.ArgumentParser, env_prefix: str) -> None:
    """Add the security flags (``--security-protocol`` ...) to a command line.

    The password has no flag (it would show in ``ps``): it comes only from the
    environment variable ``{env_prefix}SASL_PASSWORD``.

    Args:
        parser: The command line; flags not given should be left out of its result
            (``argument_default=argparse.SUPPRESS``) so they do not hide the environment.
        env_prefix: The settings' environment prefix, named in the help.
    """
    parser.add_argument("--security-protocol", help="PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL")
    parser.add_argument("--sasl-mechanism", help="PLAIN|SCRAM-SHA-256|SCRAM-SHA-512")
    parser.add_argument("--sasl-username",
                        help=f"SASL user (password: env {env_prefix}SASL_PASSWORD)")
    parser.add_argument("--ssl-cafile", help="CA bundle (PEM)")
    parser.add_argument("--ssl-certfile", help="client certificate (PEM)")
    parser.add_argument("--ssl-keyfile", help="client key (PEM)")
