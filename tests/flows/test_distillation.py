"""DensityDistiller: zero loss for an exact student, KL(s||t) driven below 0.05 nats."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasgan import flows


def _one_d_pair(m=0.7, b=1.3):
    """D=1: MADE outputs are its biases, so MAF and IAF are affine maps we can invert exactly."""
    teacher = flows.FlowModel((1,), [flows.MAF([4])])
    student = flows.FlowModel((1,), [flows.IAF([4])])
    s = 5.0 * np.tanh(b / 5.0)  # soft-clipped log-scale
    teacher.flow_layers[0].made.out.bias.assign([m, b])  # x = z e^s + m
    # IAF: x = (z - m') e^{-s'}; s' = -s and m' = -m e^{-s} give the same map.
    student.flow_layers[0].made.out.bias.assign([-m * np.exp(-s), -b])
    return teacher, student


def test_exact_student_has_zero_loss_on_every_sample():
    teacher, student = _one_d_pair()
    distiller = flows.DensityDistiller(teacher, student)
    x, log_ratio = distiller.log_ratio(2000, seed=0)
    np.testing.assert_allclose(log_ratio.numpy(), 0.0, atol=2e-5)
    # the map is non-trivial: samples are N(0.7, e^{2s})
    assert abs(float(np.mean(x)) - 0.7) < 0.2 and float(np.std(x)) > 2.0
    wrong = flows.DensityDistiller(teacher, flows.FlowModel((1,), [flows.IAF([4])]))
    assert wrong.kl(2000, seed=0) > 0.5


def _mixture(n, seed=0):
    """Two-component 2-D Gaussian mixture (bimodal)."""
    rng = np.random.default_rng(seed)
    means = np.array([[-1.0, -0.5], [1.0, 0.5]])
    return (means[rng.integers(0, 2, n)] + 0.5 * rng.normal(size=(n, 2))).astype("float32")


@pytest.mark.slow
def test_distillation_drives_kl_below_five_hundredths_of_a_nat():
    teacher = flows.FlowModel(
        (2,),
        [
            flows.MAF([32, 32]),
            flows.MAF([32, 32], input_order="right-to-left"),
            flows.MAF([32, 32]),
        ],
        seed=0,
    )
    teacher.compile(keras.optimizers.Adam(3e-3))
    teacher.fit(_mixture(8192), batch_size=256, epochs=15, verbose=0)
    frozen = [v.numpy() for v in teacher.weights]
    student = flows.FlowModel(
        (2,),
        [
            flows.IAF([32, 32]),
            flows.IAF([32, 32], input_order="right-to-left"),
            flows.IAF([32, 32]),
        ],
        seed=1,
    )
    distiller = flows.DensityDistiller(teacher, student, seed=0)
    schedule = keras.optimizers.schedules.CosineDecay(3e-3, 1000, alpha=0.05)
    distiller.compile(keras.optimizers.Adam(schedule, clipnorm=1.0))
    assert distiller.kl(5000, seed=0) > 0.1
    history = distiller.fit(batch_size=512, steps_per_epoch=125, epochs=8, verbose=0)
    assert history.history["kl"][-1] < history.history["kl"][0]
    kl = distiller.kl(20000, seed=1)
    assert kl < 0.05, kl
    for before, after in zip(frozen, teacher.weights):
        np.testing.assert_array_equal(before, after.numpy())


def test_distiller_save_load_and_errors(tmp_path):
    teacher, student = _one_d_pair()
    distiller = flows.DensityDistiller(teacher, student)
    distiller.compile(keras.optimizers.Adam(1e-2), steps_per_execution=2)
    distiller.fit(batch_size=64, steps_per_epoch=4, epochs=1, verbose=0)
    path = str(tmp_path / "distiller.keras")
    distiller.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    # Compiled on load, with the optimizer's state (Adam moments, step counter).
    assert loaded.compiled and int(loaded.optimizer.iterations.numpy()) == 4
    assert loaded.steps_per_execution == 2
    for a, b in zip(distiller.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    x = np.linspace(-3, 3, 7)[:, None].astype("float32")
    np.testing.assert_allclose(loaded.student.log_prob(x), student.log_prob(x), rtol=1e-6)
    np.testing.assert_allclose(loaded.teacher.log_prob(x), teacher.log_prob(x), rtol=1e-6)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        distiller.fit(verbose=0)
    with pytest.raises(ValueError, match="event shape"):
        flows.DensityDistiller(teacher, flows.FlowModel((2,), [flows.IAF([4])]))
    with pytest.raises(ValueError, match="FlowModel"):
        flows.DensityDistiller(teacher, keras.Sequential())


def test_warm_start_fits_the_student_by_maximum_likelihood_on_teacher_samples():
    teacher, _ = _one_d_pair(m=1.0, b=0.5)  # N(1, e^{2 s})
    student = flows.FlowModel((1,), [flows.IAF([4])])
    distiller = flows.DensityDistiller(teacher, student, seed=0)
    before = distiller.kl(4000, seed=0)
    distiller.warm_start(num_samples=8192, epochs=20, optimizer=keras.optimizers.Adam(3e-2))
    assert distiller.kl(4000, seed=0) < min(0.01, before / 10)
    with pytest.raises(ValueError, match="FlowModel teacher"):
        flows.DensityDistiller(
            flows.EnergyTarget("u1"), flows.FlowModel((2,), [flows.IAF([4])])
        ).warm_start()


def test_annealing_scales_the_teacher_term():
    teacher, student = _one_d_pair()
    with pytest.raises(ValueError, match="anneal_steps"):
        flows.DensityDistiller(teacher, student, anneal_steps=-1)
    distiller = flows.DensityDistiller(teacher, student, anneal_steps=100)
    assert flows.DensityDistiller.from_config(distiller.get_config()).anneal_steps == 100


def test_mirrored_strategy_same_update_as_one_device(two_cpu_strategy):
    """2 logical CPUs vs 1 device: the replicas draw the global batch's noise and keep their
    own rows (not the same samples on every replica), so the update is one device's."""

    def run(strategy):
        with strategy.scope():
            teacher, _ = _one_d_pair()
            student = flows.FlowModel((1,), [flows.IAF([4])], seed=0)
            rng = np.random.default_rng(0)
            for v in student.trainable_variables:
                v.assign(rng.normal(0.0, 0.3, v.shape))
            distiller = flows.DensityDistiller(teacher, student, seed=3)
            distiller.compile(keras.optimizers.SGD(0.05), jit_compile=False)
        history = distiller.fit(batch_size=64, steps_per_epoch=3, epochs=1, verbose=0)
        return [v.numpy() for v in student.trainable_variables], history.history["kl"]

    one, kl_one = run(tf.distribute.get_strategy())
    two, kl_two = run(two_cpu_strategy)
    assert max(float(np.max(np.abs(v))) for v in one) > 0
    for a, b in zip(one, two):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(kl_one, kl_two, rtol=1e-5, atol=1e-6)
