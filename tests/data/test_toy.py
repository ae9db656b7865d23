"""Tests for kerasgan.data.toy."""

import math

import numpy as np
import pytest
from scipy import special, stats

from kerasgan.data import toy


def test_ring8_modes_on_unit_circle_at_multiples_of_45_degrees():
    mix = toy.ring8()
    assert mix.modes.shape == (8, 2)
    assert mix.modes.dtype == np.float64
    assert len({tuple(np.round(m, 12)) for m in mix.modes}) == 8
    np.testing.assert_allclose(np.linalg.norm(mix.modes, axis=1), 1.0, atol=1e-15)
    angles = 2 * np.pi * np.arange(8) / 8
    np.testing.assert_allclose(mix.modes[:, 0], np.cos(angles), atol=1e-15)
    np.testing.assert_allclose(mix.modes[:, 1], np.sin(angles), atol=1e-15)
    assert mix.std == 0.01
    np.testing.assert_allclose(mix.weights, np.full(8, 1 / 8))
    np.testing.assert_allclose(toy.ring8(radius=2.0).modes, 2.0 * mix.modes)


def test_grid25_modes_and_std():
    mix = toy.grid25()
    assert mix.modes.shape == (25, 2)
    assert mix.std == 0.05
    expected = {(a, b) for a in (-4.0, -2.0, 0.0, 2.0, 4.0) for b in (-4.0, -2.0, 0.0, 2.0, 4.0)}
    assert {tuple(m) for m in mix.modes.tolist()} == expected
    np.testing.assert_allclose(mix.weights.sum(), 1.0)


def test_arrays_are_read_only():
    mix = toy.grid25()
    with pytest.raises(ValueError):
        mix.means[0, 0] = 1.0


@pytest.mark.parametrize("factory", [toy.ring8, toy.grid25])
def test_sample_statistics_match_components(factory):
    mix = factory()
    x, labels = mix.sample(20_000, seed=0, return_labels=True)
    assert x.dtype == np.float32 and x.shape == (20_000, 2)
    assert labels.shape == (20_000,) and labels.min() >= 0
    assert labels.max() < mix.num_components
    freq = np.bincount(labels, minlength=mix.num_components) / len(labels)
    np.testing.assert_allclose(freq, mix.weights, atol=0.02)
    for k in (0, mix.num_components - 1):
        comp = x[labels == k].astype(np.float64)
        np.testing.assert_allclose(comp.mean(axis=0), mix.means[k], atol=4 * mix.std / 20)
        np.testing.assert_allclose(comp.std(axis=0), mix.std, rtol=0.1)


def _scipy_log_prob(mix, x):
    comps = np.stack(
        [
            stats.multivariate_normal(mean=m, cov=s**2 * np.eye(2)).logpdf(x)
            for m, s in zip(mix.means, mix.stds)
        ],
        axis=1,
    )
    return special.logsumexp(comps, b=mix.weights[None, :], axis=1)


@pytest.mark.parametrize("factory", [toy.ring8, toy.grid25, toy.gauss3, lambda: toy.ring8(std=0.3)])
def test_log_prob_matches_scipy(factory):
    mix = factory()
    rng = np.random.default_rng(1)
    x = np.concatenate([mix.sample(200, seed=2), rng.uniform(-5, 5, (200, 2))])
    np.testing.assert_allclose(mix.log_prob(x), _scipy_log_prob(mix, x), rtol=0, atol=1e-10)
    assert mix.log_prob(x).dtype == np.float64


def test_log_prob_non_uniform_weights_and_stds_matches_scipy():
    mix = toy.GaussianMixture([[0, 0], [1, 1], [3, -1]], stds=[0.5, 1.0, 0.2], weights=[1, 2, 3])
    np.testing.assert_allclose(mix.weights, [1 / 6, 2 / 6, 3 / 6])
    x = np.random.default_rng(0).normal(size=(100, 2)) * 2
    np.testing.assert_allclose(mix.log_prob(x), _scipy_log_prob(mix, x), rtol=0, atol=1e-10)
    with pytest.raises(ValueError, match="stds"):
        _ = mix.std


def test_density_integrates_to_one():
    mix = toy.ring8(std=0.2)
    h = 0.01
    ticks = np.arange(-2.5, 2.5, h) + h / 2
    xx, yy = np.meshgrid(ticks, ticks)
    pts = np.stack([xx.ravel(), yy.ravel()], axis=1)
    total = np.exp(mix.log_prob(pts)).sum() * h * h
    assert abs(total - 1.0) < 0.01


def test_entropy_mc_of_single_gaussian():
    mix = toy.GaussianMixture([[0.0, 0.0]], stds=0.5)
    exact = 1.0 + math.log(2 * math.pi) + 2 * math.log(0.5)
    assert abs(mix.entropy_mc(n=20_000, seed=0) - exact) < 0.03


@pytest.mark.parametrize("name", toy.names())
def test_named_datasets_shape_dtype_determinism(name):
    a = toy.load(name, 501, seed=3)
    b = toy.load(name, 501, seed=3)
    c = toy.load(name, 501, seed=4)
    assert a.shape == (501, 2) and a.dtype == np.float32
    assert np.all(np.isfinite(a))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    gen = toy.load(name, 1, seed=np.random.default_rng(0))
    assert gen.shape == (1, 2)


def test_names_and_get_mixture():
    assert toy.names() == sorted(
        [
            "ring8",
            "grid25",
            "gauss3",
            "two_moons",
            "swiss_roll",
            "checkerboard",
            "pinwheel",
            "two_spirals",
        ]
    )
    assert toy.mixture_names() == ["gauss3", "grid25", "ring8"]
    np.testing.assert_allclose(toy.gauss3().weights, [0.5, 0.3, 0.2])
    np.testing.assert_allclose(toy.gauss3().stds, [0.3, 0.6, 0.15])
    assert toy.get_mixture("grid25").num_components == 25
    np.testing.assert_array_equal(toy.get_mixture("ring8").modes, toy.ring8().modes)
    with pytest.raises(ValueError, match="two_moons"):
        toy.get_mixture("two_moons")


def test_shape_ranges():
    cb = toy.checkerboard(4000, seed=0)
    assert np.all(np.abs(cb) <= 4.0)
    # Only the dark squares: floor(x1 / 2) + floor(x2 / 2) is even.
    assert np.all((np.floor(cb[:, 0] / 2) + np.floor(cb[:, 1] / 2)) % 2 == 0)
    moons = toy.two_moons(2000, noise=0.0, seed=0)
    assert moons[:, 0].min() >= -3.0 - 1e-6 and moons[:, 0].max() <= 3.0 + 1e-6
    sr = toy.swiss_roll(2000, noise=0.0, seed=0)
    r = np.linalg.norm(sr, axis=1)
    assert r.min() >= 1.5 * np.pi / 5 - 1e-5 and r.max() <= 4.5 * np.pi / 5 + 1e-5


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"Received: name='moons'"):
        toy.load("moons", 10)
    with pytest.raises(ValueError, match="two_spirals"):
        toy.load("moons", 10)


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda: toy.load("ring8", 0), r"n=0"),
        (lambda: toy.two_moons(-3), r"n=-3"),
        (lambda: toy.checkerboard(2.5), r"n=2\.5"),
        (lambda: toy.pinwheel(True), r"n=True"),
        (lambda: toy.ring8(std=0.0), r"std=0\.0"),
        (lambda: toy.grid25(std=-1), r"std=-1"),
        (lambda: toy.ring8(radius=float("nan")), r"radius=nan"),
        (lambda: toy.two_spirals(10, noise=-0.1), r"noise=-0\.1"),
        (lambda: toy.swiss_roll(10, seed="a"), r"seed='a'"),
        (lambda: toy.GaussianMixture([[0.0, 0.0]], stds=0), r"stds=0"),
        (lambda: toy.GaussianMixture([0.0, 0.0], stds=1), r"means"),
        (lambda: toy.GaussianMixture([[0.0], [1.0]], 1, weights=[-1, 2]), r"weights=\[-1, 2\]"),
        (lambda: toy.ring8().log_prob(np.zeros((3, 3))), r"\(3, 3\)"),
    ],
)
def test_bad_arguments_raise_value_error(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()
