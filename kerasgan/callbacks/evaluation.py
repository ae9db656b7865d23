"""Periodic sample-based evaluation (FID, KID, IS, PRDC) during ``fit``."""

from __future__ import annotations

import keras
import numpy as np

__all__ = ["EvaluationCallback"]


class EvaluationCallback(keras.callbacks.Callback):
    """Adds named image metrics (``fid_digits``, ``kid_digits``, ...) to the epoch logs.

    Every ``every`` epochs it draws ``num_samples`` images from the model (a
    GAN's ``sample``, images in ``[-1, 1]``; an image flow's ``sample``, in
    ``[0, 1]``, mapped to ``[-1, 1]``) with a fixed seed and evaluates them
    with a :class:`kerasgan.metrics.evaluation.Evaluator`. Place it before
    ``keras.callbacks.TensorBoard`` and :class:`MetricsLogger` so that both
    record the figures (``epoch_fid_digits`` in TensorBoard).

    Args:
        evaluator: a :class:`~kerasgan.metrics.evaluation.Evaluator`, or a list
            of metric names (an ``Evaluator`` on the digits test split is made).
        num_samples: generated images per evaluation.
        every: evaluate every ``every`` epochs (and never in between).
        seed: sampling seed (the same images' latents every time).
        sampler: optional ``f(model, n, seed) -> images in [-1, 1]``.

    Returns:
        A Keras callback; ``history`` holds ``(epoch, results)`` pairs.

    Example:
        >>> from kerasgan.callbacks import EvaluationCallback
        >>> cb = EvaluationCallback(["fid_digits"], num_samples=1000, every=5)  # doctest: +SKIP
    """

    def __init__(self, evaluator, num_samples=2000, every=1, seed=0, sampler=None):
        super().__init__()
        from kerasgan.metrics.evaluation import Evaluator

        if not isinstance(evaluator, Evaluator):
            evaluator = Evaluator(evaluator)
        for key, value in (("num_samples", num_samples), ("every", every)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be a positive int. Received: {key}={value!r}")
        self.evaluator = evaluator
        self.num_samples = num_samples
        self.every = every
        self.seed = seed
        self.sampler = sampler
        self.history = []

    def _sample(self, n, seed):
        if self.sampler is not None:
            return np.asarray(self.sampler(self.model, n, seed))
        if hasattr(self.model, "latent_dim"):  # a GAN: tanh images in [-1, 1]
            return np.asarray(self.model.sample(n, seed=seed))
        x = np.asarray(self.model.sample(n, seed=seed))  # an image flow on [0, 1]
        return np.clip(x, 0.0, 1.0) * 2.0 - 1.0

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        calls = iter(range(10**9))

        def draw(n):
            return self._sample(n, self.seed + 1000 * next(calls))

        results = self.evaluator.evaluate(draw, self.num_samples)
        self.history.append((epoch + 1, results))
        if logs is not None:
            logs.update({k: float(v) for k, v in results.items()})
