"""Feature extractors by name: ``register_extractor``, ``get_extractor``, ``extractor_names``.

Built in: ``"fid_digits"`` and ``"fid_mnist"``
(:mod:`~kerasgan.metrics.extractors.digits`), ``"fid_inception_v3"``
(:mod:`~kerasgan.metrics.extractors.inception`). A metric named
``<kind>_<suffix>`` uses the extractor ``fid_<suffix>``.

Example:
    >>> get_extractor("fid_digits").feature_dim
    64
"""

from __future__ import annotations

from collections.abc import Callable

from kerasgan.metrics.extractors.base import FeatureExtractor
from kerasgan.metrics.extractors.digits import digits_classifier_extractor
from kerasgan.metrics.extractors.inception import inception_v3_extractor

__all__ = ["extractor_names", "get_extractor", "register_extractor"]

_REGISTRY: dict[str, Callable[..., FeatureExtractor]] = {
    "fid_digits": lambda **kw: digits_classifier_extractor(dataset="digits", **kw),
    "fid_mnist": lambda **kw: digits_classifier_extractor(dataset="mnist", **kw),
    "fid_inception_v3": inception_v3_extractor,
}


def extractor_names() -> list[str]:
    """Names accepted by :func:`get_extractor`, sorted.

    Returns:
        e.g. ``['fid_digits', 'fid_inception_v3', 'fid_mnist']``.

    Example:
        >>> "fid_digits" in extractor_names()
        True
    """
    return sorted(_REGISTRY)


def register_extractor(
    name: str, factory: Callable[..., FeatureExtractor], overwrite: bool = False
) -> None:
    """Adds a feature extractor to the registry.

    Metrics find an extractor named ``fid_<suffix>`` under ``<kind>_<suffix>``
    (``fid_x``, ``kid_x``, ``is_x``, ``prdc_x``), so name it ``fid_<suffix>``.

    Args:
        name: a non-empty name without whitespace.
        factory: callable ``factory(**kwargs) -> FeatureExtractor`` (called by
            :func:`get_extractor`).
        overwrite: replace an existing entry of that name.

    Raises:
        ValueError: bad name or factory, or the name is taken and not ``overwrite``.

    Example:
        >>> register_extractor("fid_toy", lambda: None, overwrite=True)
        >>> "fid_toy" in extractor_names()
        True
    """
    if not isinstance(name, str) or not name or any(ch.isspace() for ch in name):
        raise ValueError(f"name must be a non-empty string without spaces. Received: name={name!r}")
    if not callable(factory):
        raise ValueError(f"factory must be callable. Received: factory={factory!r}")
    if name in _REGISTRY and not overwrite:
        raise ValueError(
            f"A feature extractor named {name!r} is already registered; pass overwrite=True "
            f"to replace it. Received: name={name!r}"
        )
    _REGISTRY[name] = factory


def get_extractor(name: str, **kwargs) -> FeatureExtractor:
    """Builds a feature extractor by name.

    Args:
        name: one of :func:`extractor_names` (``"fid_digits"``, ``"fid_mnist"``,
            ``"fid_inception_v3"``, or a registered one).
        **kwargs: forwarded to the factory (``path=`` for the classifiers,
            ``weights_path=`` / ``include_top=`` for InceptionV3).

    Returns:
        A :class:`FeatureExtractor`.

    Raises:
        ValueError: if ``name`` is unknown (the message lists the known names).
        WeightsNotFoundError: if the extractor's model file is missing.

    Example:
        >>> get_extractor("fid_digits").feature_dim
        64
    """
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(
            f"Unknown feature extractor; known names are {extractor_names()}. Received: "
            f"name={name!r}"
        )
    return _REGISTRY[name](**kwargs)
