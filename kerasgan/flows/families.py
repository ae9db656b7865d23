"""Flow families as library functions, and their name registry.

A family builder returns the list of flow layers (data side first) that
:class:`kerasgan.flows.FlowModel` composes. Vector families take the event
size; image families take ``(H, W, C)``. The runner looks families up by name
(``"maf"``, ``"realnvp"``, ``"glow"``...) with :func:`get` / :func:`build`, so a new
family is one decorated function here and no runner change. The composite
architectures the families are made of are library functions here too:
:func:`glow_step` (one Glow step on vectors), :func:`glow` and
:func:`realnvp_image` (multi-scale image flows), exported as
``kerasgan.flows.glow_step``, ``kerasgan.flows.glow`` and
``kerasgan.flows.realnvp_image``.

Example:
    >>> from kerasgan.flows import FlowModel, families
    >>> layers = families.build("maf", 2, num_transforms=2, hidden_units=[8])
    >>> flow = FlowModel((2,), layers)
    >>> families.names("image")
    ['glow', 'realnvp']
"""

from __future__ import annotations

import inspect

from kerasgan.flows.autoregressive import IAF, MAF, NeuralSplineAutoregressive
from kerasgan.flows.coupling import (
    AdditiveCoupling,
    AffineCoupling,
    CheckerboardCoupling,
    NeuralSplineCoupling,
)
from kerasgan.flows.image import MultiScale, Squeeze
from kerasgan.flows.linear import InvertibleLinear
from kerasgan.flows.normalization import ActNorm
from kerasgan.flows.residual import Planar, Radial

__all__ = [
    "KINDS",
    "build",
    "get",
    "glow",
    "glow_step",
    "iaf",
    "maf",
    "names",
    "nice",
    "nsf",
    "nsf_ar",
    "planar",
    "radial",
    "realnvp",
    "realnvp_image",
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


def glow_step(hidden_units=(64, 64), parity=0, seed=0, context_size=0, dtype=None):
    """The three layers of one Glow step on vectors: ActNorm, InvertibleLinear, AffineCoupling.

    Args:
        hidden_units: coupling network sizes.
        parity: coupling half (alternate between steps).
        seed: seed of the invertible linear map's initial rotation.
        context_size: conditioning input size of the coupling.
        dtype: the layers' dtype (policy), e.g. ``"float64"``.

    Returns:
        A list of three flow layers (data side first), to extend a layer list.
    """
    kw = {} if dtype is None else {"dtype": dtype}
    return [
        ActNorm(**kw),
        InvertibleLinear(seed=seed, **kw),
        AffineCoupling(hidden_units, parity=parity, context_size=context_size, **kw),
    ]


def _check_image_shape(event_shape, levels):
    shape = tuple(int(d) for d in event_shape)
    if len(shape) != 3:
        raise ValueError(f"event_shape must be (H, W, C). Received: event_shape={event_shape!r}")
    f = 2**levels
    if shape[0] % f or shape[1] % f:
        raise ValueError(
            f"{levels} levels need H and W divisible by {f}. Received: event_shape={shape}"
        )
    return shape


def realnvp_image(
    event_shape, num_scales=2, hidden_channels=(64, 64), residual=True, context_size=0, dtype=None
):
    """RealNVP's multi-scale image flow (Dinh et al., 2017, section 3.6).

    Each scale but the last: 3 checkerboard couplings (alternating masks),
    squeeze, 3 channel-wise couplings (alternating halves), then half the
    channels are factored out and the rest go to the next scale. The last
    scale: 4 checkerboard couplings.

    Args:
        event_shape: ``(H, W, C)``; H and W divisible by ``2 ** (num_scales - 1)``.
        num_scales: number of scales (>= 1).
        hidden_channels: coupling networks' hidden widths.
        residual: ResNet-style skips in the coupling networks.
        context_size: conditioning vector size.
        dtype: the layers' dtype (policy).

    Returns:
        A list of flow layers (data side first) for :class:`FlowModel`.

    Example:
        >>> layers = realnvp_image((8, 8, 1), num_scales=2, hidden_channels=[8])
    """
    num_scales = int(num_scales)
    if num_scales < 1:
        raise ValueError(f"num_scales must be >= 1. Received: num_scales={num_scales}")
    _check_image_shape(event_shape, num_scales - 1)
    kw = {"context_size": context_size}
    if dtype is not None:
        kw["dtype"] = dtype

    def scale(level):
        if level == num_scales - 1:
            return [
                CheckerboardCoupling(hidden_channels, parity=i % 2, residual=residual, **kw)
                for i in range(4)
            ]
        layers = [
            CheckerboardCoupling(hidden_channels, parity=i % 2, residual=residual, **kw)
            for i in range(3)
        ]
        layers.append(Squeeze(**({"dtype": dtype} if dtype else {})))
        network = "resnet" if residual else "cnn"
        layers += [
            AffineCoupling(hidden_channels, parity=i % 2, network=network, **kw) for i in range(3)
        ]
        layers.append(MultiScale(scale(level + 1), **({"dtype": dtype} if dtype else {})))
        return layers

    return scale(0)


def glow(
    event_shape,
    num_levels=2,
    steps_per_level=4,
    hidden_channels=(64, 64),
    context_size=0,
    seed=0,
    dtype=None,
):
    """Glow's multi-scale image flow (Kingma and Dhariwal, 2018).

    Each level: squeeze, then ``steps_per_level`` steps of ActNorm ->
    invertible 1x1 convolution (LU) -> affine coupling (channel halves, a
    ``Conv3x3 -> Conv1x1 -> zero Conv3x3`` network); every level but the last
    then factors out half the channels.

    Args:
        event_shape: ``(H, W, C)``; H and W divisible by ``2 ** num_levels``.
        num_levels: number of levels ``L`` (>= 1).
        steps_per_level: steps ``K`` per level (>= 1).
        hidden_channels: coupling networks' hidden widths.
        context_size: conditioning vector size.
        seed: seeds the 1x1 convolutions' initial rotations.
        dtype: the layers' dtype (policy).

    Returns:
        A list of flow layers (data side first) for :class:`FlowModel`.

    Example:
        >>> layers = glow((8, 8, 1), num_levels=2, steps_per_level=1, hidden_channels=[8])
    """
    num_levels, steps = int(num_levels), int(steps_per_level)
    if num_levels < 1:
        raise ValueError(f"num_levels must be >= 1. Received: num_levels={num_levels}")
    if steps < 1:
        raise ValueError(f"steps_per_level must be >= 1. Received: steps_per_level={steps}")
    _check_image_shape(event_shape, num_levels)
    dt = {} if dtype is None else {"dtype": dtype}

    def level(index):
        layers = [Squeeze(**dt)]
        for k in range(steps):
            layers += [
                ActNorm(**dt),
                InvertibleLinear(seed=seed + 1000 * index + k, **dt),
                AffineCoupling(
                    hidden_channels,
                    parity=k % 2,
                    network="cnn",
                    context_size=context_size,
                    **dt,
                ),
            ]
        if index < num_levels - 1:
            layers.append(MultiScale(level(index + 1), **dt))
        return layers

    return level(0)


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
    return glow(
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
