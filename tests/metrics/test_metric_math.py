"""The metric functions against plain NumPy/SciPy references, closed forms and known values."""

import itertools

import numpy as np
import pytest
import scipy.linalg
import scipy.stats

from kerasgan.metrics import fid, inception_score, kid, mmd, prdc, statistics, two_sample

# kerasgan.metrics.inception_score is the function (the package exports it over the module).

# --- references: the textbook formulas written the plain way -------------------------------------


def _ref_fid(x, y):
    """The reference FID code's arithmetic (np.cov, scipy.linalg.sqrtm of the product)."""
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean))


def _ref_mmd2_u(x, y, k):
    """Unbiased MMD^2 by explicit double sums over a kernel function k(a, b)."""
    m, n = len(x), len(y)
    sxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    syy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j)
    sxy = sum(k(x[i], y[j]) for i in range(m) for j in range(n))
    return sxx / (m * (m - 1)) + syy / (n * (n - 1)) - 2 * sxy / (m * n)


def _ref_is(p, splits):
    scores = []
    for part in np.array_split(p, splits):
        py = part.mean(0)
        scores.append(np.exp(np.mean([scipy.stats.entropy(row, py) for row in part])))
    return np.mean(scores), np.std(scores)


def _features(n, d, seed, shift=0.0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(d, d)) / np.sqrt(d)
    return rng.normal(size=(n, d)) @ a + shift


# --- FID ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["eigh", "sqrtm"])
def test_fid_equals_the_scipy_reference(method):
    x, y = _features(400, 24, 0), _features(500, 24, 1, shift=0.3)
    want = _ref_fid(x, y)
    got = fid.fid_from_features(x, y, method=method)
    assert want > 1.0
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_fid_of_a_set_with_itself_is_zero_and_symmetric():
    x, y = _features(300, 16, 2), _features(300, 16, 3)
    assert fid.fid_from_features(x, x) == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_allclose(fid.fid_from_features(x, y), fid.fid_from_features(y, x), rtol=1e-9)


def test_fid_closed_forms():
    # Commuting (diagonal) covariances: |dmu|^2 + sum (sqrt(a) - sqrt(b))^2.
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
    mu1, mu2 = np.zeros(3), np.array([1.0, 2.0, 0.0])
    want = 5.0 + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert fid.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(want, rel=1e-12)
    # Two Gaussians: the FID of large samples tends to the parameters' closed form (W2^2).
    rng = np.random.default_rng(4)
    l1, l2 = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    s1, s2 = l1 @ l1.T + 0.5 * np.eye(3), l2 @ l2.T + 0.5 * np.eye(3)
    m1, m2 = rng.normal(size=3), rng.normal(size=3)
    exact = float(
        np.sum((m1 - m2) ** 2)
        + np.trace(
            s1
            + s2
            - 2 * scipy.linalg.sqrtm(scipy.linalg.sqrtm(s1) @ s2 @ scipy.linalg.sqrtm(s1)).real
        )
    )
    x = rng.multivariate_normal(m1, s1, size=400_000)
    y = rng.multivariate_normal(m2, s2, size=400_000)
    assert fid.fid_from_features(x, y) == pytest.approx(exact, rel=0.01)
    assert fid.frechet_distance(m1, s1, m2, s2) == pytest.approx(exact, rel=1e-9)


def test_fid_handles_singular_covariances_without_imaginary_parts():
    # Fewer samples than features: rank-deficient covariances.
    x, y = _features(20, 64, 5), _features(20, 64, 6, shift=0.1)
    value = fid.fid_from_features(x, y)
    assert np.isfinite(value) and value > 0
    assert isinstance(value, float)
    # The eps-offset reference agrees to the offset's order.
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    off = 1e-6 * np.eye(64)
    ref = float(
        np.sum((x.mean(0) - y.mean(0)) ** 2)
        + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm((s1 + off) @ (s2 + off)).real)
    )
    assert value == pytest.approx(ref, rel=1e-3)


def test_fid_bad_inputs():
    with pytest.raises(ValueError, match="sigma1 must be"):
        fid.frechet_distance(np.zeros(3), np.eye(2), np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match="symmetric"):
        fid.frechet_distance(
            np.zeros(2), np.array([[1.0, 0.5], [0.0, 1.0]]), np.zeros(2), np.eye(2)
        )
    with pytest.raises(ValueError, match="finite"):
        fid.frechet_distance(np.array([np.nan, 0]), np.eye(2), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="method='nope'"):
        fid.frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.eye(2), method="nope")
    with pytest.raises(ValueError, match="features1"):
        fid.fid_from_features(np.zeros((1, 3)), np.zeros((5, 3)))


# --- streaming statistics and the reference cache ----------------------------------------------


def test_streaming_moments_equal_batch_statistics():
    x = _features(1003, 12, 7, shift=5.0)  # a large mean: the naive sum-of-squares loses digits
    acc = statistics.StreamingMoments()
    for size in itertools.cycle([1, 17, 128, 3]):
        start = acc.count
        if start >= len(x):
            break
        acc.update(x[start : start + size])
    assert acc.count == len(x)
    np.testing.assert_allclose(acc.mean, x.mean(0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(acc.covariance, np.cov(x, rowvar=False), rtol=1e-10, atol=1e-12)
    # Two accumulators merged (two workers) equal one.
    a = statistics.StreamingMoments().update(x[:400])
    b = statistics.StreamingMoments().update(x[400:])
    merged = a.merge(b)
    np.testing.assert_allclose(merged.covariance, np.cov(x, rowvar=False), rtol=1e-10, atol=1e-12)
    # FID from streamed statistics equals FID from the arrays.
    y = _features(800, 12, 8)
    s = statistics.StreamingMoments()
    for i in range(0, 800, 64):
        s.update(y[i : i + 64])
    np.testing.assert_allclose(
        fid.fid_from_features(acc.statistics(), s.statistics()), _ref_fid(x, y), rtol=1e-6
    )


def test_streaming_moments_errors():
    acc = statistics.StreamingMoments()
    with pytest.raises(ValueError, match="count=0"):
        acc.mean  # noqa: B018
    acc.update(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="count=1"):
        acc.covariance  # noqa: B018
    with pytest.raises(ValueError, match="3 features"):
        acc.update(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="NaN or Inf"):
        acc.update(np.full((2, 3), np.inf))
    with pytest.raises(ValueError, match=r"\[n, d\]"):
        acc.update(np.zeros(3))


def test_reference_statistics_cache_is_keyed_and_atomic(tmp_path):
    x = _features(50, 4, 9)
    calls = []

    def compute():
        calls.append(1)
        return statistics.StreamingMoments().update(x).statistics()

    s1, path, cached = statistics.reference_statistics(
        "digits", "test", "fid_digits", 50, compute, tmp_path
    )
    assert not cached and path.endswith("digits__test__fid_digits__n50.npz")
    s2, path2, cached2 = statistics.reference_statistics(
        "digits", "test", "fid_digits", 50, compute, tmp_path
    )
    assert cached2 and path2 == path and len(calls) == 1
    np.testing.assert_array_equal(s1.sigma, s2.sigma)
    assert s2.n == 50
    # Another key (n) is another file; no temporary files are left behind.
    statistics.reference_statistics(
        "digits",
        "test",
        "fid_digits",
        40,
        lambda: statistics.StreamingMoments().update(x[:40]).statistics(),
        tmp_path,
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "digits__test__fid_digits__n40.npz",
        "digits__test__fid_digits__n50.npz",
    ]
    with pytest.raises(ValueError, match="n=30"):
        statistics.reference_statistics("digits", "test", "fid_digits", 30, compute, tmp_path)


# --- KID and MMD -------------------------------------------------------------------------------


def test_polynomial_mmd_and_kid_equal_the_reference():
    x, y = _features(12, 5, 10), _features(12, 5, 11, shift=0.5)

    def k(a, b):
        return (a @ b / 5 + 1.0) ** 3

    want = _ref_mmd2_u(x, y, k)
    np.testing.assert_allclose(kid.polynomial_mmd2_unbiased(x, y), want, rtol=1e-10)
    # KID = mean/std over subsets; the same subsets as NumPy's default_rng(seed) draws.
    x, y = _features(60, 5, 12), _features(70, 5, 13, shift=0.2)
    rng = np.random.default_rng(3)
    values = []
    for _ in range(7):
        a = x[rng.choice(60, 20, replace=False)]
        b = y[rng.choice(70, 20, replace=False)]
        values.append(_ref_mmd2_u(a, b, k))
    mean, std = kid.kernel_inception_distance(x, y, num_subsets=7, subset_size=20, seed=3)
    np.testing.assert_allclose([mean, std], [np.mean(values), np.std(values)], rtol=1e-9)


@pytest.mark.parametrize("kernel, bandwidth", [("rbf", 1.3), ("multiscale", [0.5, 1.0, 2.0])])
def test_rbf_mmd_equals_the_reference(kernel, bandwidth):
    x, y = _features(15, 3, 14), _features(11, 3, 15, shift=0.4)
    widths = np.atleast_1d(bandwidth)

    def k(a, b):
        return sum(np.exp(-np.sum((a - b) ** 2) / (2 * s * s)) for s in widths)

    np.testing.assert_allclose(
        mmd.mmd2_unbiased(x, y, kernel=kernel, bandwidth=bandwidth),
        _ref_mmd2_u(x, y, k),
        rtol=1e-10,
    )


def test_median_heuristic_is_the_median_pairwise_distance():
    x, y = _features(20, 3, 16), _features(25, 3, 17)
    z = np.concatenate([x, y])
    d = [np.linalg.norm(z[i] - z[j]) for i in range(45) for j in range(i + 1, 45)]
    assert mmd.median_bandwidth(x, y) == pytest.approx(float(np.median(d)), rel=1e-10)


def test_unbiased_estimates_average_to_zero_for_one_distribution():
    rng = np.random.default_rng(18)
    kids, mmds = [], []
    for _ in range(60):
        x, y = rng.normal(size=(40, 6)), rng.normal(size=(40, 6))
        kids.append(kid.kernel_inception_distance(x, y, num_subsets=1, subset_size=40)[0])
        mmds.append(mmd.mmd2_unbiased(x, y, bandwidth=2.0))
    for values in (kids, mmds):
        values = np.asarray(values)
        se = values.std(ddof=1) / np.sqrt(len(values))
        assert abs(values.mean()) < 3 * se, (values.mean(), se)
    # ... while a shifted distribution is far from 0.
    x, y = rng.normal(size=(40, 6)), rng.normal(size=(40, 6)) + 1.0
    assert kid.kernel_inception_distance(x, y, num_subsets=1, subset_size=40)[0] > 10 * se


def test_permutation_test_level_and_power():
    rng = np.random.default_rng(19)
    level, trials = 0.05, 100
    rejections = 0
    for t in range(trials):
        x, y = rng.normal(size=(25, 2)), rng.normal(size=(25, 2))
        rejections += mmd.mmd_permutation_test(x, y, num_permutations=99, seed=t).reject(level)
    # Under the null the rejection count is at most Binomial(100, 0.05): P(X >= 12) < 0.005.
    assert rejections <= 11, rejections
    shifted = mmd.mmd_permutation_test(
        rng.normal(size=(60, 2)), rng.normal(size=(60, 2)) + 0.8, num_permutations=199
    )
    assert shifted.reject(level) and shifted.p_value == pytest.approx(1 / 200)
    # The observed statistic is the unbiased MMD^2 with the chosen bandwidth.
    x, y = rng.normal(size=(30, 2)), rng.normal(size=(30, 2))
    res = mmd.mmd_permutation_test(x, y, num_permutations=10, bandwidth=1.5)
    assert res.mmd2 == pytest.approx(mmd.mmd2_unbiased(x, y, bandwidth=1.5), rel=1e-10)
    assert res.null.shape == (10,)


def test_mmd_bad_inputs():
    x = np.zeros((5, 2))
    with pytest.raises(ValueError, match="kernel='linear'"):
        mmd.mmd2_unbiased(x, x, kernel="linear")
    with pytest.raises(ValueError, match="bandwidth"):
        mmd.mmd2_unbiased(x, x + 1, bandwidth=-1.0)
    with pytest.raises(ValueError, match="takes one bandwidth"):
        mmd.mmd2_unbiased(x, x + 1, bandwidth=[1.0, 2.0])
    with pytest.raises(ValueError, match="num_permutations=0"):
        mmd.mmd_permutation_test(x, x + 1, num_permutations=0)
    with pytest.raises(ValueError, match="same dimension"):
        mmd.mmd2_unbiased(x, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="subset_size=1"):
        kid.kernel_inception_distance(x, x, subset_size=1)


# --- Inception Score ------------------------------------------------------------------------------


def test_inception_score_worked_examples_and_reference():
    # The seeds' examples: one-hot predictions spread over k classes score k; uniform ones 1.
    for k in (3, 10):
        assert inception_score(np.eye(k), splits=1)[0] == pytest.approx(k, rel=1e-9)
        assert inception_score(np.full((k, k), 1.0 / k), splits=1)[0] == pytest.approx(1.0)
    # Random predictions: equal to scipy's KL per row, averaged per split.
    p = np.random.default_rng(20).dirichlet(np.full(10, 0.3), size=1000)
    mean, std = inception_score(p, splits=10)
    want_mean, want_std = _ref_is(p, 10)
    np.testing.assert_allclose([mean, std], [want_mean, want_std], rtol=1e-6)
    assert 1.0 < mean < 10.0


def test_inception_score_bad_inputs():
    with pytest.raises(ValueError, match="sum to 1"):
        inception_score(np.ones((4, 3)))
    with pytest.raises(ValueError, match="splits=5"):
        inception_score(np.eye(3), splits=5)
    with pytest.raises(ValueError, match="non-negative"):
        inception_score(np.array([[1.5, -0.5], [0.5, 0.5]]))


# --- precision / recall / density / coverage ------------------------------------------------------


def _ref_prdc(real, fake, k):
    def dist(a, b):
        return np.linalg.norm(a - b)

    def kth(x):
        out = []
        for i in range(len(x)):
            d = sorted(dist(x[i], x[j]) for j in range(len(x)) if j != i)
            out.append(d[k - 1])
        return out

    rho, sig = kth(real), kth(fake)
    n, m = len(real), len(fake)
    precision = np.mean([any(dist(f, real[i]) <= rho[i] for i in range(n)) for f in fake])
    recall = np.mean([any(dist(r, fake[j]) <= sig[j] for j in range(m)) for r in real])
    density = sum(dist(f, real[i]) <= rho[i] for f in fake for i in range(n)) / (k * m)
    coverage = np.mean([any(dist(real[i], f) <= rho[i] for f in fake) for i in range(n)])
    return precision, recall, density, coverage


def test_prdc_equals_the_brute_force_reference():
    real, fake = _features(40, 3, 21), _features(35, 3, 22, shift=0.7)
    got = prdc.precision_recall_density_coverage(real, fake, k=3, block=7)
    np.testing.assert_allclose(
        [got.precision, got.recall, got.density, got.coverage], _ref_prdc(real, fake, 3), rtol=1e-12
    )
    same = prdc.precision_recall_density_coverage(real, real, k=3)
    assert (same.precision, same.recall, same.coverage) == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="k=40"):
        prdc.precision_recall_density_coverage(real, fake, k=40)


# --- classifier two-sample test ----------------------------------------------------------------


def test_classifier_two_sample_test():
    rng = np.random.default_rng(23)
    shifted = two_sample.classifier_two_sample_test(
        rng.normal(size=(500, 4)), rng.normal(size=(500, 4)) + 0.7, epochs=15
    )
    assert shifted.accuracy > 0.7 and shifted.reject(0.01)
    same = two_sample.classifier_two_sample_test(
        rng.normal(size=(500, 4)), rng.normal(size=(500, 4)), epochs=15
    )
    assert 0.4 < same.accuracy < 0.6 and not same.reject(0.01)
    # The p-value is the binomial tail of the held-out correct count.
    correct = round(same.accuracy * same.num_test)
    assert same.num_test == 500
    assert same.p_value == pytest.approx(scipy.stats.binom.sf(correct - 1, 500, 0.5), rel=1e-12)
    with pytest.raises(ValueError, match="test_fraction"):
        two_sample.classifier_two_sample_test(np.zeros((8, 2)), np.ones((8, 2)), test_fraction=1.5)
