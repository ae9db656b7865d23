"""FlowModel.fit and DensityDistiller.fit input checks: finite in the compute dtype, numeric,
non-empty, present (the distiller's data-free ``fit(None)`` keeps working)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasgan import flows


def _flow(context_size=0, dtype=None):
    keras.utils.set_random_seed(0)
    kwargs = {} if dtype is None else {"dtype": dtype}
    model = flows.FlowModel(
        (2,), [flows.MAF([8], context_size=context_size, **kwargs)], context_size, **kwargs
    )
    model.compile("adam", jit_compile=False)  # the checks do not depend on XLA
    return model


def _data(n=16, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 2)).astype("float32")


def _weights(model):
    return [v.numpy().copy() for v in model.trainable_variables]


def _assert_untouched(model, before):
    for a, b in zip(before, _weights(model)):
        np.testing.assert_array_equal(a, b)


def test_float64_beyond_float32_range_is_rejected_before_training():
    model = _flow()
    before = _weights(model)
    x = _data().astype("float64")
    x[4, 0] = 1e300  # finite in float64, inf in float32
    with pytest.raises(
        ValueError,
        match=r"NaN or Inf values in the model compute dtype float32.*Received: x with dtype "
        r"float64 and shape \(16, 2\): 1 NaN/Inf values in float32 \(0 already NaN/Inf, 1 "
        r"overflowing\), largest finite \|x\| = 1e\+300, the first at index \(4, 0\)",
    ):
        model.fit(x, batch_size=8, verbose=0)
    with pytest.raises(ValueError, match=r"x with dtype float64 and shape \(16, 2\)"):
        model.fit(x.tolist(), batch_size=8, verbose=0)
    ds = tf.data.Dataset.from_tensor_slices(x).batch(8)
    with pytest.raises(
        ValueError,
        match=r"compute dtype float32.*a batch of x with dtype float64 and shape \(8, 2\) with 1 "
        r"NaN/Inf values in float32, largest finite \|x\| = 1e\+300 \(found while streaming",
    ):
        model.fit(ds, verbose=0)
    _assert_untouched(model, before)


def test_a_float64_flow_reports_the_cast_to_floatx_on_the_way():
    # Keras's array adapter casts NumPy floats to floatx (float32) before the model's cast
    model = _flow(dtype="float64")
    x = _data().astype("float64")
    x[0, 0] = 1e300
    with pytest.raises(
        ValueError, match=r"in float32 \(on the way to the model compute dtype float64\)"
    ):
        model.fit(x, batch_size=8, verbose=0)
    # a dataset is not cast on the way: float64 data is checked against float64
    x[0, 0] = 1e200
    ds = tf.data.Dataset.from_tensor_slices(x).batch(8).take(1)
    checked = model._unpack(next(iter(ds)))[0]
    assert checked.dtype == tf.float64 and float(tf.reduce_max(checked)) == 1e200


def test_context_is_checked_in_dicts_pairs_and_datasets():
    model = _flow(context_size=1)
    before = _weights(model)
    x = _data()
    c = np.zeros((16, 1))
    c[5, 0] = -1e300
    with pytest.raises(ValueError, match=r"\|context\| <= 3\.40282e\+38.*context with dtype float64"):
        model.fit({"x": x, "context": c}, batch_size=8, verbose=0)
    with pytest.raises(ValueError, match=r"context with dtype float64.*index \(5, 0\)"):
        model.fit(x, c, batch_size=8, verbose=0)
    ds = tf.data.Dataset.from_tensor_slices({"x": x, "context": c}).batch(8)
    with pytest.raises(ValueError, match=r"a batch of context with dtype float64"):
        model.fit(ds, verbose=0)
    ds = tf.data.Dataset.from_tensor_slices((x, c)).batch(8)
    with pytest.raises(ValueError, match=r"a batch of context with dtype float64"):
        model.fit(ds, verbose=0)
    _assert_untouched(model, before)
    c[5, 0] = 0.5
    history = model.fit(x, c, batch_size=8, verbose=0)
    assert np.isfinite(history.history["nll"][0])


def test_mixed_precision_checks_against_float16():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = _flow()
        assert model.compute_dtype == "float16"
        x = _data()
        x[1, 1] = 7e4  # finite in float32, inf in float16
        with pytest.raises(ValueError, match=r"compute dtype float16 .*\|x\| <= 65504"):
            model.fit(x, batch_size=8, verbose=0)
        ds = tf.data.Dataset.from_tensor_slices(x).batch(8)
        with pytest.raises(ValueError, match=r"compute dtype float16.*dtype float32"):
            model.fit(ds, verbose=0)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_actnorm_initialization_sees_only_checked_data():
    model = flows.FlowModel((2,), flows.glow_step([8], parity=0, seed=0))
    model.compile("adam")
    x = _data().astype("float64")
    x[0, 1] = 1e300
    ds = tf.data.Dataset.from_tensor_slices(x).batch(8)
    with pytest.raises(ValueError, match=r"a batch of x with dtype float64.*found while streaming"):
        model.fit(ds, verbose=0)
    empty = tf.data.Dataset.from_tensor_slices(_data()).filter(lambda r: r[0] > 1e9).batch(8)
    with pytest.raises(ValueError, match=r"no batches"):
        model.fit(empty, verbose=0)
    assert model._needs_init()  # nothing initialized from bad or missing data


@pytest.mark.parametrize(
    "x, match",
    [
        (np.zeros((0, 2), "float32"), r"x is empty\. Received: x with shape \(0, 2\)"),
        (np.array([["a", "b"]] * 8), r"numeric.*Received: x with dtype str32 and shape \(8, 2\)"),
        (np.array([["a", 1.0]] * 8, dtype=object), r"numeric.*dtype object"),
        (None, r"FlowModel\.fit needs training data\. Received: x=None"),
        ([[1.0, 2.0], [3.0]], r"array of numbers\. Received: a list"),
        ({"x": np.zeros((8, 2)), "y": np.zeros(8)}, r"needs the key 'x'.*Received keys: \['x', 'y'\]"),
    ],
    ids=["empty", "str", "object", "none", "ragged", "dict_keys"],
)
def test_bad_inputs_raise_value_errors_naming_what_was_received(x, match):
    model = _flow()
    with pytest.raises(ValueError, match=match):
        model.fit(x, batch_size=8, verbose=0)


def test_lists_object_ints_bool_and_float16_train():
    model = _flow()
    x = _data(8)
    for data in (x.tolist(), x.astype(object), x.astype("float16"), np.rint(x).astype("int64")):
        history = model.fit(data, batch_size=8, epochs=1, verbose=0)
        assert np.isfinite(history.history["nll"][0])


def test_dataset_without_batches_raises_instead_of_returning_empty_logs():
    model = _flow()
    ds = tf.data.Dataset.from_tensor_slices(_data(5)).batch(8, drop_remainder=True)
    with pytest.raises(ValueError, match=r"yields no batches.*cardinality 0.*drop_remainder"):
        model.fit(ds, verbose=0)
    unknown = tf.data.Dataset.from_tensor_slices(_data(8)).filter(lambda r: r[0] > 1e9).batch(4)
    with pytest.raises(ValueError, match=r"ran no training step.*Received: epochs=1"):
        model.fit(unknown, verbose=0)


# --- DensityDistiller ------------------------------------------------------------------------


def _distiller(context_size=0):
    keras.utils.set_random_seed(0)
    teacher = flows.FlowModel(
        (2,), [flows.MAF([8], context_size=context_size)], context_size=context_size
    )
    student = flows.FlowModel(
        (2,), [flows.IAF([8], context_size=context_size)], context_size=context_size
    )
    distiller = flows.DensityDistiller(teacher, student, seed=0)
    distiller.compile("adam", jit_compile=False)
    return distiller


def test_distiller_data_free_fit_still_works():
    distiller = _distiller()
    history = distiller.fit(None, batch_size=8, steps_per_epoch=2, verbose=0)
    assert np.isfinite(history.history["kl"][0])
    with pytest.raises(ValueError, match=r"steps_per_epoch >= 1"):
        distiller.fit(None, batch_size=8, verbose=0)


def test_distiller_contexts_are_checked():
    distiller = _distiller(context_size=1)
    before = _weights(distiller.student)
    c = np.ones((16, 1))
    c[3, 0] = 1e300
    with pytest.raises(
        ValueError,
        match=r"compute dtype float32.*Received: x with dtype float64 and shape \(16, 1\): 1 "
        r"NaN/Inf values in float32.*index \(3, 0\)",
    ):
        distiller.fit(c, batch_size=8, verbose=0)
    ds = tf.data.Dataset.from_tensor_slices(c).batch(8)
    with pytest.raises(ValueError, match=r"a batch of context with dtype float64"):
        distiller.fit(ds, verbose=0)
    with pytest.raises(ValueError, match=r"x is empty\. Received: x with shape \(0, 1\)"):
        distiller.fit(np.zeros((0, 1)), batch_size=8, verbose=0)
    with pytest.raises(ValueError, match=r"numeric.*dtype str32"):
        distiller.fit(np.array([["a"]] * 8), batch_size=8, verbose=0)
    with pytest.raises(ValueError, match=r"contexts of shape \[N, 1\].*\(8, 3\)"):
        distiller.fit(np.zeros((8, 3)), batch_size=8, verbose=0)
    empty = tf.data.Dataset.from_tensor_slices(c).batch(32, drop_remainder=True)
    with pytest.raises(ValueError, match=r"yields no batches"):
        distiller.fit(empty, verbose=0)
    with pytest.raises(ValueError, match=r"x=None"):
        distiller.fit(None, steps_per_epoch=1, verbose=0)
    _assert_untouched(distiller.student, before)
    history = distiller.fit([[0.5]] * 8, batch_size=8, verbose=0)  # a list of contexts trains
    assert np.isfinite(history.history["kl"][0])
