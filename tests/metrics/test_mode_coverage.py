"""Tests for kerasgan.metrics.mode_coverage."""

import dataclasses
import importlib
import json
import math

import numpy as np
import pytest

from kerasgan.data import toy
from kerasgan.metrics import NUM_SAMPLES, ModeCoverage, mode_coverage

# P(||x - mu|| <= 3 sigma) for a 2-D isotropic Gaussian (Rayleigh radius).
P_HQ = 1.0 - math.exp(-4.5)


def test_constants():
    assert NUM_SAMPLES == 2500
    assert abs(P_HQ - 0.98889) < 1e-5
    module = importlib.import_module("kerasgan.metrics.mode_coverage")
    assert module.mode_coverage is mode_coverage and module.NUM_SAMPLES == NUM_SAMPLES


@pytest.mark.parametrize(("factory", "k"), [(toy.grid25, 25), (toy.ring8, 8)])
def test_exact_samples_capture_all_modes(factory, k):
    mix = factory()
    result = mode_coverage(mix.sample(NUM_SAMPLES, seed=0), mix.modes, mix.std)
    assert isinstance(result, ModeCoverage)
    assert result.num_modes == k and result.modes_captured == k
    assert result.num_samples == NUM_SAMPLES
    binomial_std = math.sqrt(P_HQ * (1 - P_HQ) / NUM_SAMPLES)
    assert abs(result.high_quality_fraction - P_HQ) < 4 * binomial_std
    assert result.high_quality_percent == pytest.approx(100 * result.high_quality_fraction)
    assert 0.0 <= result.reverse_kl < 0.02
    assert result.counts.shape == (k,) and result.counts.dtype.kind == "i"
    assert int(result.counts.sum()) == round(result.high_quality_fraction * NUM_SAMPLES)


@pytest.mark.parametrize(("factory", "k"), [(toy.grid25, 25), (toy.ring8, 8)])
def test_single_component_gives_log_k(factory, k):
    mix = factory()
    x, labels = mix.sample(3 * NUM_SAMPLES, seed=1, return_labels=True)
    one = x[labels == 3]
    result = mode_coverage(one, mix.modes, mix.std)
    assert result.modes_captured == 1
    assert result.counts[3] == result.counts.sum() > 0
    assert abs(result.reverse_kl - math.log(k)) < 1e-12


def test_golden_example():
    modes = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    std = 0.5  # high-quality radius 1.5
    samples = np.array(
        [
            [0.1, -0.2],  # mode 0
            [1.0, 1.0],  # mode 0 (distance 1.414 <= 1.5)
            [10.0, 1.4],  # mode 1
            [0.0, 8.6],  # mode 2 (distance 1.4)
            [5.0, 5.0],  # far from every mode
            [2.0, 0.0],  # nearest mode 0 but distance 2 > 1.5
            [-30.0, 40.0],  # far
            [11.2, 1.2],  # nearest mode 1, distance 1.697 > 1.5
        ]
    )
    result = mode_coverage(samples, modes, std)
    np.testing.assert_array_equal(result.counts, [2, 1, 1, 0])
    assert result.modes_captured == 3
    assert result.high_quality_fraction == 4 / 8
    q = np.array([0.5, 0.25, 0.25])
    expected_kl = float(np.sum(q * np.log(q / 0.25)))  # = 0.5 log 2
    assert result.reverse_kl == pytest.approx(expected_kl, abs=1e-15)
    assert result.reverse_kl == pytest.approx(0.5 * math.log(2), abs=1e-15)
    assert result.as_dict() == {
        "modes": 3,
        "num_modes": 4,
        "hq_percent": 50.0,
        "reverse_kl": pytest.approx(0.5 * math.log(2)),
    }
    json.dumps(result.as_dict())
    # A larger threshold admits the two near misses.
    wide = mode_coverage(samples, modes, std, threshold=4.0)
    np.testing.assert_array_equal(wide.counts, [3, 2, 1, 0])


def test_no_high_quality_samples_gives_inf():
    result = mode_coverage(np.full((5, 2), 100.0), toy.ring8().modes, 0.01)
    assert result.modes_captured == 0 and result.high_quality_fraction == 0.0
    assert result.reverse_kl == math.inf
    assert result.as_dict()["reverse_kl"] == math.inf


def test_uniform_histogram_gives_zero_kl_and_result_is_frozen():
    modes = toy.ring8().modes
    result = mode_coverage(np.repeat(modes, 3, axis=0), modes, 0.01)
    assert result.reverse_kl == 0.0 and result.modes_captured == 8
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.reverse_kl = 1.0
    with pytest.raises(ValueError):
        result.counts[0] = 7


def test_tensors_and_chunking_agree_with_brute_force():
    tf = pytest.importorskip("tensorflow")
    mix = toy.grid25()
    rng = np.random.default_rng(0)
    x = np.concatenate([mix.sample(30_000, seed=2), rng.uniform(-5, 5, (30_000, 2))])
    x = x.astype(np.float32)
    result = mode_coverage(tf.constant(x), tf.constant(mix.modes), mix.std)
    d = np.linalg.norm(x[:, None, :].astype(np.float64) - mix.modes[None], axis=-1)
    hq = d.min(axis=1) <= 3 * mix.std
    expected = np.bincount(d.argmin(axis=1)[hq], minlength=25)
    np.testing.assert_array_equal(result.counts, expected)
    assert result.high_quality_fraction == hq.mean()


def test_higher_dimensions():
    modes = np.eye(5) * 10
    samples = modes[[0, 0, 4]] + 0.01
    result = mode_coverage(samples, modes, std=0.1)
    np.testing.assert_array_equal(result.counts, [2, 0, 0, 0, 1])


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"samples": np.array([[np.nan, 0.0]])}, r"samples must be finite"),
        ({"samples": np.zeros((0, 2))}, r"samples.*\(0, 2\)"),
        ({"samples": np.zeros(2)}, r"samples.*\(2,\)"),
        ({"samples": np.zeros((3, 3))}, r"same number of columns"),
        ({"modes": np.zeros((0, 2))}, r"modes.*\(0, 2\)"),
        ({"modes": np.array([[np.inf, 0.0]])}, r"modes must be finite"),
        ({"std": 0.0}, r"std=0\.0"),
        ({"std": -1}, r"std=-1"),
        ({"std": float("nan")}, r"std=nan"),
        ({"threshold": 0}, r"threshold=0"),
        ({"samples": np.array([["a", "b"]])}, r"samples must be numeric"),
    ],
)
def test_bad_input(kwargs, pattern):
    args = {"samples": np.zeros((3, 2)), "modes": np.ones((4, 2)), "std": 0.1}
    args.update(kwargs)
    with pytest.raises(ValueError, match=pattern):
        mode_coverage(**args)
