"""Strategy selection for ``tf.distribute``.

Example:
    >>> from kerasgan import distribute
    >>> strategy = distribute.get_strategy("default")
    >>> strategy.num_replicas_in_sync
    1
"""

from __future__ import annotations

import json
import socket

import tensorflow as tf

__all__ = [
    "STRATEGIES",
    "get_strategy",
    "is_multi_worker",
    "local_cluster",
    "replica_logs",
    "worker_role",
]

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


def is_multi_worker(strategy=None) -> bool:
    """Whether ``strategy`` (default: the current one) spans several worker processes."""
    strategy = strategy or tf.distribute.get_strategy()
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    return bool(strategy.extended._in_multi_worker_mode())


def worker_role(strategy=None):
    """``(is_chief, task_id)`` of this process: ``(True, 0)`` outside multi-worker training.

    The chief is the ``chief`` task, or worker 0 when the cluster has no chief
    (TF's convention). Only the chief should export; the other workers write
    their logs and backups to their own directories.
    """
    strategy = strategy or tf.distribute.get_strategy()
    if not is_multi_worker(strategy):
        return True, 0
    resolver = strategy.cluster_resolver
    task_type, task_id = resolver.task_type, int(resolver.task_id or 0)
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    chief = task_type == "chief" or (task_type == "worker" and task_id == 0 and not has_chief)
    return chief, task_id


def replica_logs(logs):
    """Makes a ``train_step``'s scalar logs survive Keras's multi-worker reduction.

    Keras 3 (3.15) reduces per-replica logs under a multi-worker
    ``MultiWorkerMirroredStrategy`` with ``strategy.reduce("MEAN", v, axis=0)``,
    which fails on scalars ("Invalid reduction dimension 0 for input with 0
    dimensions", tensorflow#72388). Giving each value shape ``[1]`` there makes
    that reduction the mean over replicas and yields a scalar again. Everywhere
    else the logs are returned unchanged.

    Args:
        logs: dict of scalar tensors from ``train_step``/``test_step``.

    Returns:
        The dict to return from the step.
    """
    if not is_multi_worker():
        return logs
    return {k: tf.reshape(v, [1]) for k, v in logs.items()}


def local_cluster(num_workers=2, host="127.0.0.1"):
    """``TF_CONFIG`` values for ``num_workers`` worker processes on one machine.

    Picks free ports on ``host``. Give worker ``i`` the environment variable
    ``TF_CONFIG=local_cluster(n)[i]`` and ``--strategy multi_worker``.

    Args:
        num_workers: number of worker processes (>= 1).
        host: the address the workers listen on.

    Returns:
        A list of ``num_workers`` JSON strings.

    Example:
        >>> configs = local_cluster(2)
        >>> json.loads(configs[1])["task"]
        {'type': 'worker', 'index': 1}
    """
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 1:
        raise ValueError(
            f"num_workers must be a positive int. Received: num_workers={num_workers!r}"
        )
    sockets = []
    for _ in range(num_workers):
        s = socket.socket()
        s.bind((host, 0))
        sockets.append(s)
    addresses = [f"{host}:{s.getsockname()[1]}" for s in sockets]
    for s in sockets:
        s.close()
    cluster = {"worker": addresses}
    return [
        json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
        for i in range(num_workers)
    ]


def replica_slice(global_tensor, local_batch):
    """This replica's rows of a tensor drawn for the whole global batch.

    Every replica draws the same global tensor from the same stateless seed
    and keeps its own rows, so replicas get different noise (keras#20611 drew
    identical noise on every replica) and N replicas see exactly the noise one
    device would see for the same global batch.
    """
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return global_tensor
    start = tf.cast(ctx.replica_id_in_sync_group, tf.int32) * local_batch
    return global_tensor[start : start + local_batch]


def num_replicas():
    """Replicas in sync in the current replica context (1 outside a strategy)."""
    ctx = tf.distribute.get_replica_context()
    return 1 if ctx is None else ctx.num_replicas_in_sync
