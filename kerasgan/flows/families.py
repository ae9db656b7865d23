"""Flow families as library functions, and their name registry.

A family builder returns the list of flow layers (data side first) that
:class:`kerasgan.flows.FlowModel` composes. Vector families take the event
size; image families take ``(H, W, C)``. The runner looks families up by name
(``"maf"``, ``"realnvp"``, ``"glow"``...) with :func:`get` / :func:`build`, so a new
family is one decorated function here and no runner change.

Example:
    >>> from kerasgan.flows import FlowModel, families
    >>> layers = families.build("maf", 2, num_transforms=2, hidden_units=[8])
    >>> flow = FlowModel((2,), layers)
    >>> families.names("image")
    ['glow', 'realnvp']
"""

from __future__ import annotations

import inspect

from kerasgan.flows.glow import glow_step
from kerasgan.flows.image import glow as _glow_image
from kerasgan.flows.image import realnvp_image
from kerasgan.flows.layers import (
    IAF,
    MAF,
    AdditiveCoupling,
    AffineCoupling,
    NeuralSplineAutoregressive,
    NeuralSplineCoupling,
)
from kerasgan.flows.planar_radial import Planar, Radial

__all__ = [
    "KINDS",
    "build",
    "get",
    "iaf",
    "maf",
    "names",
    "nice",
    "nsf",
    "nsf_ar",
    "planar",
    "radial",
    "realnvp",
    "register",
]

KINDS = ("vector", "image")
_REGISTRY: dict[tuple[str, str], object] = {}


def register(name, kind="vector"):
    """Decorator: registers a family builder under ``name`` for ``kind`` data.

    Args:
        name: the family's name (what recipes write as ``"model"``).
        kind: ``"vector"`` (builder takes the event size) or ``"image"`` (``(H, W, C)``).

    Returns:
        The decorator (it returns the builder unchanged).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}. Received: kind={kind!r}")

    def decorator(builder):
        _REGISTRY[(kind, name)] = builder
        return builder

    return decorator


def names(kind="vector"):
    """Sorted family names of ``kind`` (``None``: every kind)."""
    return sorted({n for (k, n) in _REGISTRY if kind is None or k == kind})


def get(name, kind="vector"):
    """The builder registered as ``name`` for ``kind`` data.

    Raises:
        ValueError: no such family (the message lists the known ones).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}. Received: kind={kind!r}")
    try:
        return _REGISTRY[(kind, name)]
    except KeyError:
        raise ValueError(
            f"Unknown {kind} flow family. Expected one of {names(kind)}. Received: name={name!r}"
        ) from None


def build(name, event_shape, kind=None, **options):
    """Builds family ``name``'s layers, passing only the options its builder takes.

    Args:
        name: family name.
        event_shape: an int or ``(D,)`` for vector families, ``(H, W, C)`` for image ones.
        kind: ``"vector"`` / ``"image"``; None: from ``event_shape``'s rank.
        **options: builder arguments (``num_transforms``, ``hidden_units``,
            ``num_bins``...); those the builder does not take are ignored, so
            one option set serves every family.

    Returns:
        A list of flow layers, data side first.
    """
    shape = (int(event_shape),) if isinstance(event_shape, int) else tuple(event_shape)
    if kind is None:
        kind = "image" if len(shape) == 3 else "vector"
    builder = get(name, kind)
    accepted = inspect.signature(builder).parameters
    kwargs = {k: v for k, v in options.items() if k in accepted}
    first = shape[0] if kind == "vector" else shape
    return builder(first, **kwargs)


def _orders(num_transforms):
    return ["left-to-right" if k % 2 == 0 else "right-to-left" for k in range(num_transforms)]


@register("maf")
def maf(event_size, num_transforms=5, hidden_units=(64, 64), inverse=False):
    """Masked autoregressive flow (Papamakarios et al. 2017): ``num_transforms`` MADE
    affine layers with alternating input orders; ``inverse=True`` gives the IAF.

    ``x_i = u_i exp(alpha_i(x_<i)) + mu_i(x_<i)``.

    Args:
        event_size: data dimension (unused: MADE sizes itself on build).
        num_transforms: number of layers.
        hidden_units: MADE hidden sizes.
        inverse: IAF layers (fast sampling, slow density) instead of MAF.

    Returns:
        A list of :class:`MAF` (or :class:`IAF`) layers.
    """
    del event_size
    cls = IAF if inverse else MAF
    return [
        cls(hidden_units, input_order=order, name=f"{cls.__name__.lower()}_{k}")
        for k, order in enumerate(_orders(num_transforms))
    ]


@register("iaf")
def iaf(event_size, num_transforms=5, hidden_units=(64, 64)):
    """Inverse autoregressive flow (Kingma et al. 2016): :func:`maf` with ``inverse=True``."""
    return maf(event_size, num_transforms, hidden_units, inverse=True)


@register("nsf_ar")
def nsf_ar(event_size, num_transforms=5, hidden_units=(64, 64), num_bins=8, bound=4.0):
    """Autoregressive rational-quadratic neural spline flow (Durkan et al. 2019)."""
    del event_size
    return [
        NeuralSplineAutoregressive(num_bins, bound, hidden_units=hidden_units, input_order=order)
        for order in _orders(num_transforms)
    ]


@register("realnvp")
def realnvp(event_size, num_transforms=5, hidden_units=(64, 64)):
    """RealNVP on vectors (Dinh et al. 2017): affine couplings on alternating halves,
    ``y_b = x_b exp(s(x_a)) + t(x_a)``."""
    del event_size
    return [AffineCoupling(hidden_units, parity=k % 2) for k in range(num_transforms)]


@register("nice")
def nice(event_size, num_transforms=5, hidden_units=(64, 64)):
    """NICE (Dinh et al. 2015): additive couplings ``y_b = x_b + t(x_a)`` (volume preserving)."""
    del event_size
    return [AdditiveCoupling(hidden_units, parity=k % 2) for k in range(num_transforms)]


@register("nsf")
def nsf(event_size, num_transforms=5, hidden_units=(64, 64), num_bins=8, bound=4.0):
    """Coupling rational-quadratic neural spline flow (Durkan et al. 2019)."""
    del event_size
    return [
        NeuralSplineCoupling(hidden_units, parity=k % 2, num_bins=num_bins, bound=bound)
        for k in range(num_transforms)
    ]


@register("glow")
def glow_vector(event_size, num_transforms=5, hidden_units=(64, 64), seed=0):
    """Glow steps on vectors (Kingma and Dhariwal 2018): ActNorm, invertible linear map
    (LU), affine coupling, ``num_transforms`` times; step ``k``'s rotation is seeded ``seed + k``."""
    del event_size
    layers = []
    for k in range(num_transforms):
        layers += glow_step(hidden_units, parity=k % 2, seed=seed + k)
    return layers


@register("planar")
def planar(event_size, num_transforms=5):
    """Planar flow (Rezende and Mohamed 2015): ``f(z) = z + u h(w.z + b)``."""
    del event_size
    return [Planar() for _ in range(num_transforms)]


@register("radial")
def radial(event_size, num_transforms=5):
    """Radial flow (Rezende and Mohamed 2015): ``f(z) = z + beta h(alpha, r) (z - z0)``."""
    del event_size
    return [Radial() for _ in range(num_transforms)]


@register("glow", kind="image")
def glow_image(event_shape, num_levels=2, steps_per_level=4, hidden_channels=(64, 64), seed=0):
    """Glow's multi-scale image flow: :func:`kerasgan.flows.glow`."""
    return _glow_image(
        event_shape,
        num_levels=num_levels,
        steps_per_level=steps_per_level,
        hidden_channels=hidden_channels,
        seed=seed,
    )


@register("realnvp", kind="image")
def realnvp_multiscale(event_shape, num_scales=2, hidden_channels=(64, 64)):
    """RealNVP's multi-scale image flow: :func:`kerasgan.flows.realnvp_image`."""
    return realnvp_image(event_shape, num_scales=num_scales, hidden_channels=hidden_channels)
