"""check_flow_layer: every exported flow layer is registered and passes; the harness catches
each kind of defect it claims to check (broken toy layers), and only that check fails."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from kerasgan import flows
from kerasgan.testing.flows import (
    FLOW_CHECKS,
    FLOW_LAYERS,
    check_flow_layer,
    flow_layer_factories,
)

tfb = tfp.bijectors

def _exported_flow_layer_classes():
    classes = set()
    for name in flows.__all__:
        obj = getattr(flows, name)
        if isinstance(obj, type) and issubclass(obj, flows.FlowLayer):
            classes.add(obj)
    classes.discard(flows.FlowLayer)
    return classes


def test_every_exported_flow_layer_is_registered():
    exported = _exported_flow_layer_classes()
    assert len(exported) >= 16  # MAF ... Radial: the walk found the layers
    registered = {type(case.make()) for case in FLOW_LAYERS.values()}
    missing = sorted(cls.__name__ for cls in exported - registered)
    assert not missing, f"FlowLayer subclasses without a FLOW_LAYERS case: {missing}"


# Each case takes 0.2-6 s on 2 shared cores (--durations): none is marked slow.
@pytest.mark.parametrize("name", sorted(FLOW_LAYERS))
def test_registered_layer_passes_the_harness(name, tmp_path):
    case = FLOW_LAYERS[name]
    result = case.check(tmp_dir=str(tmp_path))
    assert set(result.ran) | set(result.skipped) == set(FLOW_CHECKS)
    assert {"log_det", "config", "save_load", "bad_arguments"} <= set(result.ran)
    assert ("round_trip" in result.ran) == case.options.get("invertible", True)
    declared = case.options.get("autoregressive_order") is not None
    assert ("autoregressive" in result.ran) == declared
    layer = case.make()
    layer.build((None, *case.event_shape))
    assert ("gradients" in result.ran) == bool(layer.trainable_variables)
    assert ("context" in result.ran) == bool(layer.context_size)


def test_the_per_file_tables_come_from_the_registry():
    vector, image = flow_layer_factories("vector"), flow_layer_factories("image")
    assert {"maf", "iaf", "permute", "actnorm"} <= set(vector)
    assert {"squeeze", "multiscale", "actnorm_image"} <= set(image)
    layer = vector["maf"]()
    assert isinstance(layer, flows.MAF) and layer.compute_dtype == "float64"
    assert flow_layer_factories("image", dtype="float32")["squeeze"]().compute_dtype == "float32"
    with pytest.raises(ValueError, match="group="):
        flow_layer_factories("tabular")


def test_result_lists_the_checks_that_ran_and_why_others_did_not(tmp_path):
    result = check_flow_layer(lambda: flows.Planar(), (2,), invertible=False, tmp_dir=tmp_path)
    assert result.layer_class == "Planar" and result.event_shape == (2,)
    assert result.ran == ["log_det", "gradients", "config", "save_load", "bad_arguments"]
    assert set(result.skipped) == {"round_trip", "autoregressive", "context"}
    assert "invertible=False" in result.skipped["round_trip"]
    only = check_flow_layer(lambda: flows.MAF([8]), (3,), checks=["round_trip"])
    assert only.ran == ["round_trip"] and not only.skipped
    big = check_flow_layer(
        lambda: flows.ActNorm(), (80,), max_jacobian_size=64, checks=["log_det"]
    )
    assert big.ran == [] and "max_jacobian_size" in big.skipped["log_det"]


# --- toy layers: a correct one, and broken copies the harness must reject ------------------


class _ScaleShift(tfb.Bijector):
    """``x = z * exp(s) + shift``, with optional deliberate errors."""

    def __init__(self, log_scale, shift, inverse_error=0.0, log_det_error=0.0):
        parameters = dict(locals())
        self._log_scale, self._shift = log_scale, shift
        self._inverse_error, self._log_det_error = inverse_error, log_det_error
        super().__init__(
            forward_min_event_ndims=1, dtype=log_scale.dtype, parameters=parameters, name="toy"
        )

    def _forward(self, z):
        return z * tf.exp(self._log_scale) + self._shift

    def _inverse(self, x):
        return (x - self._shift) * tf.exp(-self._log_scale) + self._inverse_error

    def _forward_log_det_jacobian(self, z):
        return tf.reduce_sum(self._log_scale) + self._log_det_error + 0.0 * z[..., 0]


@keras.saving.register_keras_serializable(package="kerasgan_test_harness")
class Toy(flows.FlowLayer):
    def __init__(
        self, shift=0.0, inverse_error=0.0, log_det_error=0.0, unused_weight=False, **kwargs
    ):
        super().__init__(**kwargs)
        if not np.isfinite(shift):
            raise ValueError(f"shift must be finite. Received: shift={shift!r}")
        self.shift = float(shift)
        self.inverse_error = float(inverse_error)
        self.log_det_error = float(log_det_error)
        self.unused_weight = bool(unused_weight)

    def build_flow(self, event_size):
        self.log_scale = self.add_weight(shape=(event_size,), initializer="zeros", name="s")
        if self.unused_weight:
            self.unused = self.add_weight(shape=(), initializer="zeros", name="unused")

    def bijector(self, context=None):
        return _ScaleShift(
            tf.convert_to_tensor(self.log_scale),
            tf.constant(self.shift, self.compute_dtype),
            self.inverse_error,
            self.log_det_error,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            shift=self.shift,
            inverse_error=self.inverse_error,
            log_det_error=self.log_det_error,
            unused_weight=self.unused_weight,
        )
        return config


@keras.saving.register_keras_serializable(package="kerasgan_test_harness")
class ForgetfulToy(Toy):
    def get_config(self):
        config = super().get_config()
        del config["shift"]
        return config


class UnregisteredToy(Toy):
    pass


@keras.saving.register_keras_serializable(package="kerasgan_test_harness")
class VagueToy(Toy):
    def __init__(self, shift=0.0, **kwargs):
        if not np.isfinite(shift):
            raise ValueError("invalid configuration")
        super().__init__(shift=shift, **kwargs)


_TOY_BAD = [{"shift": float("nan")}]


def test_a_correct_toy_layer_passes_every_check(tmp_path):
    result = check_flow_layer(
        lambda: Toy(shift=0.5),
        (3,),
        autoregressive_order=np.zeros(3),
        bad_arguments=_TOY_BAD,
        tmp_dir=tmp_path,
    )
    assert set(result.ran) == set(FLOW_CHECKS) - {"context"}


@pytest.mark.parametrize(
    "make, check, options, match",
    [
        (lambda: Toy(inverse_error=1e-6), "round_trip", {}, "inverse\\(forward\\(z\\)\\) != z"),
        (lambda: Toy(log_det_error=0.01), "log_det", {}, "forward_log_det_jacobian"),
        (
            lambda: flows.MAF([8]),
            "autoregressive",
            {"autoregressive_order": lambda layer: layer.made.input_order[::-1]},
            "must be 0",
        ),
        (
            lambda: flows.InvertibleLinear(),
            "autoregressive",
            {"autoregressive_order": np.zeros(3)},
            "must be 0",
        ),
        (lambda: Toy(unused_weight=True), "gradients", {}, "unused.*no gradient"),
        (lambda: ForgetfulToy(shift=0.5), "config", {}, "clone's forward differs"),
        (lambda: UnregisteredToy(), "save_load", {}, "save_load"),
        (lambda: Toy(), "bad_arguments", {"bad_arguments": [{"log_det_error": 1.0}]}, "accepted"),
        (lambda: VagueToy(), "bad_arguments", {"bad_arguments": _TOY_BAD}, "must name"),
    ],
    ids=[
        "round_trip",
        "log_det",
        "autoregressive_wrong_order",
        "autoregressive_dense",
        "gradients",
        "config",
        "save_load",
        "bad_arguments_accepted",
        "bad_arguments_vague",
    ],
)
def test_the_harness_rejects_a_broken_layer(make, check, options, match, tmp_path):
    with pytest.raises(AssertionError, match=match) as info:
        check_flow_layer(make, (3,), checks=[check], tmp_dir=tmp_path, **options)
    assert f"check {check!r}" in str(info.value)


def test_round_trip_is_not_fooled_by_tfp_s_bijector_cache():
    # TFP hands inverse(forward(z)) back from its cache (shared by bijectors with equal
    # parameters): the same object's round trip of a wrong inverse reads as exact.
    bij = Toy(inverse_error=0.1, dtype="float64")
    bij.build((None, 3))
    z = tf.constant(np.ones((2, 3)))
    same = bij.bijector()
    np.testing.assert_array_equal(same.inverse(same.forward(z)).numpy(), z.numpy())
    with pytest.raises(AssertionError, match="round_trip"):
        check_flow_layer(lambda: Toy(inverse_error=0.1), (3,), checks=["round_trip"])


class ContextIgnoringToy(Toy):
    takes_context = True  # declares a context but its bijector ignores it


def test_a_layer_that_ignores_its_context_is_caught():
    # Was ActNorm(context_size=2), which ActNorm now rejects (tests/flows/test_base.py).
    with pytest.raises(AssertionError, match="does not depend on the context"):
        check_flow_layer(lambda: ContextIgnoringToy(context_size=2), (3,), checks=["context"])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"event_shape": (2, 2)}, "event_shape"),
        ({"event_shape": (0,)}, "event_shape"),
        ({"checks": ["round_trip", "speed"]}, "checks"),
        ({"batch_size": 1}, "batch_size"),
        ({"make_layer": lambda: keras.layers.Dense(2)}, "FlowLayer"),
        ({"make_layer": lambda: flows.MAF([4], dtype="float32")}, "float64"),
        ({"autoregressive_order": np.zeros(5)}, "autoregressive_order"),
    ],
)
def test_bad_harness_arguments(kwargs, match):
    args = {"make_layer": lambda: flows.MAF([4]), "event_shape": (3,), **kwargs}
    with pytest.raises(ValueError, match=match):
        check_flow_layer(args.pop("make_layer"), args.pop("event_shape"), **args)


# --- defects the harness found in the flow layers ---------------------------------------


def test_actnorm_rejects_a_non_positive_epsilon():
    # epsilon=-1 made initialize() write NaN log-scales (log(std - 1) for std < 1).
    with pytest.raises(ValueError, match=r"epsilon=-1\.0"):
        flows.ActNorm(epsilon=-1.0)
    with pytest.raises(ValueError, match="epsilon=0"):
        flows.ActNorm(epsilon=0)


@pytest.mark.parametrize("cls", [flows.Planar, flows.Radial])
@pytest.mark.parametrize("init_scale", [float("nan"), float("inf"), -0.1])
def test_planar_and_radial_reject_a_bad_init_scale(cls, init_scale):
    # A NaN init_scale gave NaN weights without an error.
    with pytest.raises(ValueError, match=f"init_scale={init_scale!r}"):
        cls(init_scale=init_scale)


def test_permutation_errors_show_the_value_received_as_plain_ints():
    # Were "Received: permutation=[np.int64(0), np.int64(0), ...]" under NumPy 2.
    with pytest.raises(ValueError, match=r"permutation=\[0, 0, 1, 2\]"):
        flows.Permute([0, 0, 1, 2]).build((None, 4))
    with pytest.raises(ValueError, match=r"input_order=\[1, 1, 2, 3\]"):
        flows.MADE(4, input_order=[1, 1, 2, 3])
