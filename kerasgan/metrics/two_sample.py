"""Classifier two-sample test (C2ST, Lopez-Paz and Oquab, 2017).

Train a classifier to tell real from generated samples on one half of the
data; on the other half, its accuracy is about 1/2 when the two distributions
are equal. Under that null hypothesis the number of correct held-out
predictions is Binomial(n_test, 1/2), so the one-sided p-value is

    p = P(Binomial(n_test, 1/2) >= correct).

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> r = classifier_two_sample_test(rng.normal(size=(400, 2)),
    ...                                rng.normal(size=(400, 2)) + 1.5, epochs=10)
    >>> r.accuracy > 0.7 and r.p_value < 1e-6
    True
"""

from __future__ import annotations

import dataclasses

import numpy as np

from kerasgan.metrics._arrays import feature_matrix

__all__ = ["C2STResult", "classifier_two_sample_test"]


@dataclasses.dataclass(frozen=True)
class C2STResult:
    """Held-out accuracy of the real-vs-generated classifier and its binomial p-value."""

    accuracy: float
    p_value: float
    num_test: int

    def reject(self, level=0.05) -> bool:
        """Whether the test rejects "same distribution" at ``level``."""
        return self.p_value <= level


def classifier_two_sample_test(
    real,
    fake,
    hidden_units=(64, 64),
    epochs=20,
    batch_size=128,
    learning_rate=1e-3,
    test_fraction=0.5,
    seed=0,
):
    """Trains an MLP to separate ``real`` from ``fake``; held-out accuracy and p-value.

    Samples are flattened, pooled, shuffled (seeded) and split; features are
    standardized with the training half's statistics. The classifier is a
    Keras MLP (ReLU hidden layers, one logit) trained with Adam and binary
    cross-entropy; its initial weights and the data order are seeded.

    Args:
        real: ``[n, ...]`` real samples or features.
        fake: ``[m, ...]`` generated samples or features (same trailing shape).
        hidden_units: MLP widths (``()`` for logistic regression).
        epochs: training epochs.
        batch_size: training batch size.
        learning_rate: Adam's learning rate.
        test_fraction: held-out fraction in ``(0, 1)``.
        seed: seeds the split, the initialization and the batch order.

    Returns:
        :class:`C2STResult` (``accuracy``, one-sided binomial ``p_value``, ``num_test``).

    Example:
        See the module docstring.
    """
    import keras
    import scipy.stats

    a = feature_matrix(real, "real", min_rows=4, vectors_as_columns=True, flatten=True)
    b = feature_matrix(fake, "fake", min_rows=4, vectors_as_columns=True, flatten=True)
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"real and fake need the same sample shape. Received: {np.shape(real)} and "
            f"{np.shape(fake)}"
        )
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(
            f"test_fraction must be in (0, 1). Received: test_fraction={test_fraction!r}"
        )
    x = np.concatenate([a, b])
    y = np.concatenate([np.zeros(len(a)), np.ones(len(b))])
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    x, y = x[order], y[order]
    n_test = int(round(len(x) * float(test_fraction)))
    if n_test < 2 or len(x) - n_test < 2:
        raise ValueError(f"Too few samples for the split. Received: {len(x)} samples")
    x_train, y_train, x_test, y_test = x[n_test:], y[n_test:], x[:n_test], y[:n_test]
    mean, std = x_train.mean(0), x_train.std(0) + 1e-8
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std

    init = [int(s) for s in rng.integers(0, 2**31 - 1, size=len(hidden_units) + 1)]
    inputs = keras.Input((x.shape[1],))
    h = inputs
    for units, s in zip(hidden_units, init):
        init_k = keras.initializers.GlorotUniform(seed=s)
        h = keras.layers.Dense(int(units), activation="relu", kernel_initializer=init_k)(h)
    logit = keras.layers.Dense(
        1, kernel_initializer=keras.initializers.GlorotUniform(seed=init[-1])
    )(h)
    model = keras.Model(inputs, logit)
    model.compile(
        keras.optimizers.Adam(learning_rate),
        keras.losses.BinaryCrossentropy(from_logits=True),
    )
    x_train32, y_train32 = x_train.astype("float32"), y_train.astype("float32")
    for _ in range(int(epochs)):
        perm = rng.permutation(len(x_train32))
        model.fit(
            x_train32[perm],
            y_train32[perm],
            batch_size=batch_size,
            epochs=1,
            shuffle=False,
            verbose=0,
        )
    logits = model.predict(x_test.astype("float32"), batch_size=1024, verbose=0)[:, 0]
    correct = int(np.sum((logits > 0) == (y_test > 0.5)))
    p_value = float(scipy.stats.binom.sf(correct - 1, n_test, 0.5))
    return C2STResult(accuracy=correct / n_test, p_value=p_value, num_test=n_test)
