"""Autoencoder architectures: the seed notebook's and the dense default.

Each builder returns :class:`Networks`: the serving autoencoder (scaled window in,
reconstruction out; the only model exported to the bundle) and, sharing its layers, a
two-output model with the seed's classifier head on the code, used only by stage 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
from keras import layers

WINDOW = 140


@dataclass(frozen=True)
class Networks:
    """The layers of one model, assembled three ways.

    Attributes:
        autoencoder: Input (None, 140) -> reconstruction (None, 140); what is served.
        with_classifier: Input -> [reconstruction, anomaly probability]; stage 2 only.
        encoder: The encoder (trainable in stage 2).
        decoder: The decoder (frozen in stage 2).
        classifier: The seed's classifier head on the code (stage 2 only).
    """

    autoencoder: Any
    with_classifier: Any
    encoder: Any
    decoder: Any
    classifier: Any


def build(architecture: str, *, hidden: tuple[int, ...] = (64, 32), latent: int = 8) -> Networks:
    """Build an architecture by name (``dense`` or ``seed``)."""
    if architecture == "seed":
        return build_seed()
    if architecture == "dense":
        return build_dense(hidden=hidden, latent=latent)
    raise ValueError(f"unknown architecture {architecture!r} (allowed: 'dense', 'seed')")


def build_seed() -> Networks:
    """The notebook's ``detector_with_classifier``, layer for layer.

    Encoder 64-32-16 ReLU with dropout 0.5 after the first two layers; decoder
    16-32 ReLU then 140 tanh; classifier 16 ReLU then 1 sigmoid on the code.
    """
    encoder = keras.Sequential(
        [
            layers.Dense(64, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(32, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(16, activation="relu"),
        ],
        name="encoder",
    )
    decoder = keras.Sequential(
        [
            layers.Dense(16, activation="relu"),
            layers.Dense(32, activation="relu"),
            layers.Dense(WINDOW, activation="tanh"),
        ],
        name="decoder",
    )
    return _assemble(encoder, decoder, "seed")


def build_dense(*, hidden: tuple[int, ...] = (64, 32), latent: int = 8) -> Networks:
    """The default: a symmetric dense autoencoder without dropout (140-64-32-8-32-64-140).

    A narrow code (8) and no dropout reconstruct normal beats closely while abnormal
    morphology does not fit through the bottleneck; the sigmoid output matches the
    MinMax-scaled range of the training data.
    """
    encoder = keras.Sequential(
        [*(layers.Dense(units, activation="relu") for units in hidden),
         layers.Dense(latent, activation="relu")],
        name="encoder",
    )
    decoder = keras.Sequential(
        [*(layers.Dense(units, activation="relu") for units in reversed(hidden)),
         layers.Dense(WINDOW, activation="sigmoid")],
        name="decoder",
    )
    return _assemble(encoder, decoder, "dense")


def _assemble(encoder: Any, decoder: Any, name: str) -> Networks:
    classifier = keras.Sequential(
        [layers.Dense(16, activation="relu"), layers.Dense(1, activation="sigmoid")],
        name="classifier",
    )
    inputs = keras.Input(shape=(WINDOW,), name="window")
    code = encoder(inputs)
    reconstruction = decoder(code)
    autoencoder = keras.Model(inputs, reconstruction, name=f"{name}_autoencoder")
    with_classifier = keras.Model(
        inputs, [reconstruction, classifier(code)], name=f"{name}_with_classifier"
    )
    return Networks(autoencoder, with_classifier, encoder, decoder, classifier)
