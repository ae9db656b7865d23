"""Memoization of a bijector's network call on the identity of its input tensor."""

from __future__ import annotations

__all__ = ["memo"]


def memo(fn):
    """Memoizes ``fn(x, ...)`` on the identity of the tensor ``x``.

    TFP calls a bijector's network once for the transform and again for the
    log-det (``inverse`` and ``inverse_log_det_jacobian`` in ``log_prob``), and
    graph mode does not merge the two copies (measured: 6 instead of 3 MADE
    matmuls per MAF layer). The bijector objects built by a layer's
    ``bijector()`` live for one call/trace, so caching by tensor identity
    (keeping the tensor alive) is safe. A new tensor (e.g. ``tf.identity(x)``)
    is a cache miss.

    Args:
        fn: ``fn(x, *args, **kwargs)``; the extra arguments are not part of the key.

    Returns:
        The memoized function.

    Example:
        >>> calls = []
        >>> f = memo(lambda x: calls.append(x) or x)
        >>> x = object()
        >>> f(x) is f(x) and len(calls) == 1
        True
    """
    cache = {}

    def wrapped(x, *args, **kwargs):
        hit = cache.get(id(x))
        if hit is not None and hit[0] is x:
            return hit[1]
        out = fn(x, *args, **kwargs)
        cache[id(x)] = (x, out)
        return out

    return wrapped
