"""Strategy selection for ``tf.distribute``.

Example:
    >>> from kerasgan import distribute
    >>> strategy = distribute.get_strategy("default")
    >>> strategy.num_replicas_in_sync
    1
"""

from __future__ import annotations

import tensorflow as tf

__all__ = ["STRATEGIES", "get_strategy"]

STRATEGIES = ("auto", "default", "mirrored", "multi_worker")


def get_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """Returns a ``tf.distribute`` strategy by name.

    - ``"auto"``: ``MirroredStrategy`` over all GPUs when there are two or
      more, else the default (single-device) strategy.
    - ``"default"``: the default strategy (one device).
    - ``"mirrored"``: ``MirroredStrategy`` over all local GPUs (or the CPU).
    - ``"multi_worker"``: ``MultiWorkerMirroredStrategy`` configured by the
      ``TF_CONFIG`` environment variable.

    Args:
        name: one of :data:`STRATEGIES`.

    Returns:
        A ``tf.distribute.Strategy``; build and compile models in its ``scope()``.

    Raises:
        ValueError: for an unknown name.

    Example:
        >>> get_strategy("default").num_replicas_in_sync
        1
    """
    if name not in STRATEGIES:
        raise ValueError(
            f"Unknown strategy. Expected one of {list(STRATEGIES)}. Received: strategy={name!r}"
        )
    if name == "auto":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.MultiWorkerMirroredStrategy()
