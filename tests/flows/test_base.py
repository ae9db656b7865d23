"""FlowLayer: a layer accepts ``context_size > 0`` only if its maps use the context."""

import numpy as np
import pytest
import tensorflow as tf

from kerasgan import flows

# Exported layers whose bijector ignores the context (no conditioner network).
UNCONDITIONAL = [
    flows.ActNorm,
    flows.BatchNorm,
    flows.InvertibleLinear,
    flows.LogitTransform,
    flows.Permute,
    flows.Planar,
    flows.Radial,
    flows.Squeeze,
]
CONDITIONAL = [
    flows.MAF,
    flows.IAF,
    flows.NeuralSplineAutoregressive,
    flows.AffineCoupling,
    flows.AdditiveCoupling,
    flows.NeuralSplineCoupling,
    flows.CheckerboardCoupling,
]


def _exported_layer_classes():
    return {
        obj
        for obj in (getattr(flows, name) for name in flows.__all__)
        if isinstance(obj, type) and issubclass(obj, flows.FlowLayer) and obj is not flows.FlowLayer
    }


def test_the_tables_cover_every_exported_layer():
    assert _exported_layer_classes() == set(UNCONDITIONAL) | set(CONDITIONAL) | {flows.MultiScale}


@pytest.mark.parametrize("cls", UNCONDITIONAL, ids=lambda cls: cls.__name__)
def test_unconditional_layers_reject_a_context_size(cls):
    # They accepted context_size=2 and silently ignored the context.
    assert not cls.takes_context
    with pytest.raises(ValueError, match=rf"{cls.__name__} does not use a context.*context_size=2"):
        cls(context_size=2)
    assert cls(context_size=0).context_size == 0


@pytest.mark.parametrize("cls", CONDITIONAL, ids=lambda cls: cls.__name__)
def test_conditional_layers_accept_a_context_size(cls):
    assert cls.takes_context
    assert cls(context_size=2).context_size == 2


def test_multiscale_rejects_a_context_none_of_its_layers_uses():
    with pytest.raises(ValueError, match="MultiScale.*context_size=2"):
        flows.MultiScale([flows.Squeeze(), flows.ActNorm()], context_size=2)
    inner = flows.CheckerboardCoupling([4], context_size=3)
    assert flows.MultiScale([flows.Squeeze(), inner]).context_size == 3
    assert flows.MultiScale([flows.Squeeze(), flows.ActNorm()]).context_size == 0


def test_a_conditional_layer_uses_its_context():
    layer = flows.AffineCoupling([8], context_size=2, dtype="float64")
    layer.build((None, 4))
    rng = np.random.default_rng(0)
    for v in layer.trainable_variables:
        v.assign(rng.normal(0.0, 0.3, v.shape))
    x = tf.constant(rng.normal(size=(3, 4)))
    a = layer.bijector(tf.zeros((3, 2), "float64")).inverse(x)
    b = layer.bijector(tf.ones((3, 2), "float64")).inverse(tf.identity(x))
    assert np.abs(a.numpy() - b.numpy()).max() > 1e-3
