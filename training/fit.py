"""Training: stage 1 (reconstruction of normal beats) and the seed's optional stage 2.

Stage 1 trains only the autoencoder (encoder -> decoder) on normal training beats with
early stopping on normal validation beats; unlike the notebook it never runs through the
classifier head. Stage 2, as the seed did, freezes the decoder and trains the encoder
and the classifier head on all training beats with reconstruction loss plus a
class-weighted binary cross-entropy (abnormal beats weighted 3:1 by default).

Each epoch runs as one compiled TensorFlow graph over all its batches: Keras'
``fit`` spends ~0.15 s per epoch on input-pipeline overhead for this tiny model, the
compiled epoch ~0.02 s, which makes a long epoch budget with early stopping affordable.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from detector.scoring import reconstruction_error
from training.config import FitConfig, ModelConfig
from training.models import Networks, build

EpochLog = Callable[[str, int, int, float, float], None]
"""Progress callback: (stage, epoch, epochs, train loss, validation loss)."""


@dataclass
class History:
    """Per-epoch losses of both stages and the wall time of training."""

    stage1_train: list[float] = field(default_factory=list)
    stage1_val: list[float] = field(default_factory=list)
    stage2_train: list[float] = field(default_factory=list)
    stage2_val: list[float] = field(default_factory=list)
    best_epoch: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class TrainingData:
    """Scaled float32 arrays the fit needs (test beats never enter here)."""

    train: np.ndarray
    train_anomaly: np.ndarray
    val: np.ndarray
    val_anomaly: np.ndarray


def set_determinism(seed: int) -> None:
    """Seed Python, numpy and TensorFlow and make TF ops deterministic."""
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def train_model(
    data: TrainingData,
    model_cfg: ModelConfig,
    fit_cfg: FitConfig,
    *,
    seed: int,
    architecture: str | None = None,
    on_epoch: EpochLog | None = None,
) -> tuple[Networks, History]:
    """Build and train one model; deterministic for a given seed.

    Args:
        data: Scaled training and validation beats with their anomaly flags.
        model_cfg: Architecture settings.
        fit_cfg: Epoch budget, patience, batch size, learning rate, stage 2 settings.
        seed: Random seed for weights, dropout and shuffling.
        architecture: Overrides ``model_cfg.architecture`` (used for the baseline).
        on_epoch: Called after every epoch with the losses.

    Returns:
        The trained networks (stage 1's best weights, then stage 2 if enabled) and
        their loss history.
    """
    set_determinism(seed)
    started = time.perf_counter()
    nets = build(architecture or model_cfg.architecture, hidden=model_cfg.hidden,
                 latent=model_cfg.latent)
    history = History()
    rng = np.random.default_rng(seed)
    _stage1(nets, data, fit_cfg, history, rng, on_epoch)
    if fit_cfg.stage2_epochs > 0:
        _stage2(nets, data, fit_cfg, history, rng, on_epoch)
    history.seconds = time.perf_counter() - started
    return nets, history


def _stage1(nets: Networks, data: TrainingData, cfg: FitConfig, history: History,
            rng: np.random.Generator, on_epoch: EpochLog | None) -> None:
    import tensorflow as tf

    model = nets.autoencoder
    train = tf.constant(data.train[~data.train_anomaly])
    val = tf.constant(data.val[~data.val_anomaly])

    def loss_fn(x: Any, training: bool) -> Any:
        return tf.reduce_mean(tf.square(x - model(x, training=training)))

    epoch = _epoch_graph(train, cfg, loss_fn, model.trainable_variables)
    validate = tf.function(lambda: loss_fn(val, False))
    best, best_weights, waited = np.inf, model.get_weights(), 0
    for number in range(1, cfg.epochs + 1):
        train_loss = float(epoch(_permutation(rng, train.shape[0])))
        val_loss = float(validate())
        history.stage1_train.append(train_loss)
        history.stage1_val.append(val_loss)
        if on_epoch is not None:
            on_epoch("stage1", number, cfg.epochs, train_loss, val_loss)
        if val_loss < best:
            best, best_weights, waited = val_loss, model.get_weights(), 0
            history.best_epoch = number
        else:
            waited += 1
            if waited >= cfg.patience:
                break
    model.set_weights(best_weights)


def _stage2(nets: Networks, data: TrainingData, cfg: FitConfig, history: History,
            rng: np.random.Generator, on_epoch: EpochLog | None) -> None:
    import tensorflow as tf

    model = nets.with_classifier
    # Targets packed as (window..., anomaly, weight) so one gather feeds a batch.
    train = tf.constant(_with_targets(data.train, data.train_anomaly, cfg.stage2_anomaly_weight))
    val = tf.constant(_with_targets(data.val, data.val_anomaly, cfg.stage2_anomaly_weight))
    width = data.train.shape[1]

    def loss_fn(packed: Any, training: bool) -> Any:
        x, target, weight = packed[:, :width], packed[:, width:width + 1], packed[:, -1]
        recon, prob = model(x, training=training)
        bce = keras.losses.binary_crossentropy(target, prob)
        return (tf.reduce_mean(tf.square(x - recon))
                + cfg.stage2_bce_weight * tf.reduce_mean(bce * weight))

    # The decoder is frozen: only the encoder and the classifier head learn.
    variables = [*nets.encoder.trainable_variables, *nets.classifier.trainable_variables]
    epoch = _epoch_graph(train, cfg, loss_fn, variables)
    validate = tf.function(lambda: loss_fn(val, False))
    for number in range(1, cfg.stage2_epochs + 1):
        train_loss = float(epoch(_permutation(rng, train.shape[0])))
        val_loss = float(validate())
        history.stage2_train.append(train_loss)
        history.stage2_val.append(val_loss)
        if on_epoch is not None:
            on_epoch("stage2", number, cfg.stage2_epochs, train_loss, val_loss)


def _epoch_graph(rows: Any, cfg: FitConfig, loss_fn: Callable[[Any, bool], Any],
                 variables: list[Any]) -> Any:
    """A compiled function running one shuffled epoch of mini-batch Adam steps."""
    import tensorflow as tf

    optimizer = keras.optimizers.Adam(cfg.learning_rate)
    n = int(rows.shape[0])
    batch = cfg.batch_size
    batches = -(-n // batch)

    @tf.function
    def epoch(order: Any) -> Any:
        total = tf.constant(0.0)
        for i in tf.range(batches):
            chunk = tf.gather(rows, order[i * batch:(i + 1) * batch])
            with tf.GradientTape() as tape:
                loss = loss_fn(chunk, True)
            grads = tape.gradient(loss, variables)
            optimizer.apply_gradients(zip(grads, variables, strict=True))
            total += loss * tf.cast(tf.shape(chunk)[0], tf.float32)
        return total / n

    return epoch


def _permutation(rng: np.random.Generator, n: int) -> Any:
    import tensorflow as tf

    return tf.constant(rng.permutation(n).astype(np.int32))


def _with_targets(x: np.ndarray, anomaly: np.ndarray, anomaly_weight: float) -> np.ndarray:
    target = anomaly.astype(np.float32)[:, None]
    weight = np.where(anomaly, anomaly_weight, 1.0).astype(np.float32)[:, None]
    return np.concatenate([x.astype(np.float32), target, weight], axis=1)


def reconstruction_errors(autoencoder: Any, scaled: np.ndarray, batch: int = 1024) -> np.ndarray:
    """Mean squared reconstruction error per beat (the detector's score), float64."""
    return reconstruction_error(scaled, autoencoder.predict(scaled, batch_size=batch, verbose=0))
