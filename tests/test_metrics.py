"""gan_tf.metrics: hand-worked cases, closed forms and independent numpy/scipy
re-implementations for the four metrics; the bundled classifiers; InceptionV3 shapes;
the training-time FID callback."""

import json
import math
import os

import keras
import numpy as np
import pytest
import scipy.linalg
import scipy.spatial.distance
import tensorflow as tf

from conftest import image_dataset, small_gan
from gan_tf import callbacks, configs, metrics, tasks, trainer
from gan_tf.metrics import distances, features

# -- Frechet distance ------------------------------------------------------------------


def test_fid_of_identical_sets_is_zero():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(500, 16))
    for method in distances.FID_METHODS:
        assert abs(metrics.frechet_distance(x, x, method=method)) < 1e-8


def test_fid_hand_worked_diagonal_gaussians():
    # Commuting (diagonal) covariances: tr(sqrt(S1 S2)) = sum sqrt(s1_i s2_i), so
    # FID = |mu1 - mu2|^2 + sum (sqrt(s1_i) - sqrt(s2_i))^2
    #     = (1 + 4) + ((1 - 2)^2 + (2 - 3)^2) = 7.
    mu1, mu2 = np.zeros(2), np.array([1.0, 2.0])
    s1, s2 = np.diag([1.0, 4.0]), np.diag([4.0, 9.0])
    for method in distances.FID_METHODS:
        assert metrics.frechet_distance_from_statistics(
            mu1, s1, mu2, s2, method=method) == pytest.approx(7.0, abs=1e-10)


def _fid_reference(mu1, s1, mu2, s2):
    # Independent form: tr(sqrt(S1 S2)) = tr(sqrt(S1^(1/2) S2 S1^(1/2))), both roots by
    # scipy's sqrtm of symmetric matrices.
    root = np.real(scipy.linalg.sqrtm(s1))
    middle = np.real(scipy.linalg.sqrtm(root @ s2 @ root))
    return np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(middle)


def _random_covariance(dim, rng):
    a = rng.normal(size=(dim, dim))
    return a @ a.T / dim + 0.1 * np.eye(dim)


def test_fid_statistics_match_the_closed_form_for_non_commuting_covariances():
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    s1, s2 = _random_covariance(8, rng), _random_covariance(8, rng)
    expected = _fid_reference(mu1, s1, mu2, s2)
    for method in distances.FID_METHODS:
        assert metrics.frechet_distance_from_statistics(
            mu1, s1, mu2, s2, method=method) == pytest.approx(expected, rel=1e-9)


def test_fid_of_samples_approaches_the_gaussians_closed_form():
    # Samples of N(mu1, S1) and N(mu2, S2): the sample FID converges to the closed form.
    rng = np.random.default_rng(2)
    mu1, mu2 = np.array([0.0, 1.0, -1.0]), np.array([0.5, 0.0, 0.0])
    s1, s2 = _random_covariance(3, rng), _random_covariance(3, rng)
    x = rng.multivariate_normal(mu1, s1, size=200_000)
    y = rng.multivariate_normal(mu2, s2, size=200_000)
    expected = _fid_reference(mu1, s1, mu2, s2)
    assert metrics.frechet_distance(x, y) == pytest.approx(expected, rel=0.02)
    # 1-D: FID = (m1 - m2)^2 + (sd1 - sd2)^2 = 4 + 1 = 5.
    a, b = rng.normal(0, 1, (200_000, 1)), rng.normal(2, 2, (200_000, 1))
    assert metrics.frechet_distance(a, b) == pytest.approx(5.0, rel=0.02)


def test_fid_methods_agree_and_survive_singular_covariances():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(300, 32)), rng.normal(0.2, 1.3, size=(300, 32))
    assert metrics.frechet_distance(x, y) == pytest.approx(
        metrics.frechet_distance(x, y, method="eigh"), rel=1e-8)
    # Fewer samples than dimensions: rank-deficient covariances (the eps retry path).
    x, y = rng.normal(size=(20, 64)), rng.normal(size=(20, 64))
    fid = metrics.frechet_distance(x, y)
    assert np.isfinite(fid)
    assert fid == pytest.approx(metrics.frechet_distance(x, y, method="eigh"), rel=1e-4)


def test_fid_rejects_a_large_imaginary_component():
    # S1 S2 = diag(-1, 1) (S2 not PSD): its square root diag(i, 1) is truly complex.
    with pytest.raises(ValueError, match="imaginary component"):
        metrics.frechet_distance_from_statistics(np.zeros(2), np.eye(2), np.zeros(2),
                                                 np.diag([-1.0, 1.0]))


def test_fid_is_computed_in_float64_and_takes_tensors():
    rng = np.random.default_rng(12)
    x = rng.normal(size=(400, 8)).astype(np.float32)
    y = (rng.normal(size=(400, 8)) + 0.1).astype(np.float32)
    expected = metrics.frechet_distance(x.astype(np.float64), y.astype(np.float64))
    assert metrics.frechet_distance(tf.constant(x), tf.constant(y)) == expected


@pytest.mark.parametrize("real, fake, match", [
    (np.zeros((5, 3)), np.zeros((5, 4)), "differ in width"),
    (np.zeros(5), np.zeros(5), "2-D"),
    (np.zeros((1, 3)), np.zeros((5, 3)), "at least 2 rows"),
    (np.full((5, 3), np.nan), np.zeros((5, 3)), "NaN"),
])
def test_fid_validates_its_inputs(real, fake, match):
    with pytest.raises(ValueError, match=match):
        metrics.frechet_distance(real, fake)


# -- Kernel Inception distance ---------------------------------------------------------


def test_kid_hand_worked():
    # D = 1, x = {0, 0}, y = {1, 1}: k(0, 0) = 1, k(1, 1) = (1 + 1)^3 = 8, k(0, 1) = 1.
    # MMD^2_u = 1 + 8 - 2 * 1 = 7.
    x, y = np.zeros((2, 1)), np.ones((2, 1))
    assert metrics.kernel_inception_distance(x, y, num_subsets=3) == pytest.approx(7.0)


def _mmd2_unbiased_loops(x, y):
    d = x.shape[1]

    def k(a, b):
        return (a @ b / d + 1) ** 3

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_kid_matches_a_loop_implementation():
    rng = np.random.default_rng(13)
    x, y = rng.normal(size=(12, 5)), rng.normal(0.5, 1.0, size=(12, 5))
    expected = _mmd2_unbiased_loops(x, y)
    assert distances.mmd2_unbiased(x, y) == pytest.approx(expected, rel=1e-10)
    # One subset as large as both sets is a permutation of them: the same MMD.
    assert metrics.kernel_inception_distance(x, y, num_subsets=1, subset_size=50) == \
        pytest.approx(expected, rel=1e-10)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(14)
    x, y = rng.normal(size=(2000, 16)), rng.normal(size=(2000, 16))
    same, std = metrics.kernel_inception_distance(x, y, num_subsets=20, subset_size=500,
                                                  return_std=True)
    assert abs(same) < 3 * std + 1e-3
    shifted = metrics.kernel_inception_distance(x, y + 0.5, num_subsets=20,
                                                subset_size=500)
    assert shifted > 10 * max(abs(same), std)
    # Reproducible: a fixed seed draws the same subsets.
    assert metrics.kernel_inception_distance(x, y, num_subsets=5, subset_size=100) == \
        metrics.kernel_inception_distance(x, y, num_subsets=5, subset_size=100)


# -- Inception score -------------------------------------------------------------------


def test_inception_score_of_uniform_and_of_confident_balanced_predictions():
    assert metrics.inception_score(np.full((100, 10), 0.1)) == pytest.approx((1.0, 0.0))
    one_hot = np.eye(10)[np.arange(1000) % 10]   # each split holds every class equally
    mean, std = metrics.inception_score(one_hot)
    assert mean == pytest.approx(10.0) and std == pytest.approx(0.0, abs=1e-12)
    # Confident but collapsed on one class: IS = 1.
    assert metrics.inception_score(np.eye(10)[np.zeros(100, int)])[0] == pytest.approx(1.0)


def test_inception_score_hand_worked():
    # p1 = (1, 0), p2 = (1/2, 1/2): p(y) = (3/4, 1/4);
    # KL1 = log(4/3), KL2 = 1/2 log(2/3) + 1/2 log 2; IS = exp((KL1 + KL2) / 2).
    expected = math.exp((math.log(4 / 3) + 0.5 * math.log(2 / 3) + 0.5 * math.log(2)) / 2)
    probs = np.array([[1.0, 0.0], [0.5, 0.5]])
    assert metrics.inception_score(probs, num_splits=1) == pytest.approx((expected, 0.0))


def test_inception_score_matches_the_reference_formula():
    rng = np.random.default_rng(15)
    probs = rng.dirichlet(np.ones(10) * 0.3, size=1000) + 1e-12
    probs /= probs.sum(axis=1, keepdims=True)
    scores = []
    for part in np.array_split(probs, 5):  # the reference code's consecutive chunks
        py = part.mean(axis=0)
        scores.append(np.exp(np.mean(np.sum(part * (np.log(part) - np.log(py)), axis=1))))
    assert metrics.inception_score(probs, num_splits=5) == pytest.approx(
        (np.mean(scores), np.std(scores)), rel=1e-9)


def test_inception_score_rejects_logits():
    rng = np.random.default_rng(16)
    with pytest.raises(ValueError, match="summing to 1"):
        metrics.inception_score(rng.normal(size=(20, 10)))


# -- Precision and recall --------------------------------------------------------------


def test_precision_recall_of_identical_and_of_far_apart_sets():
    rng = np.random.default_rng(17)
    x = rng.normal(size=(300, 8))
    assert metrics.precision_recall(x, x) == (1.0, 1.0)
    assert metrics.precision_recall(x, x + 100.0) == (0.0, 0.0)


def test_precision_recall_hand_worked():
    # 1-D, k = 1. Real {0, 1, 2, 3, 4}: each ball has radius 1. Fake {0.5, 10}: radius
    # 9.5 each. Precision: 0.5 is inside a real ball, 10 is not -> 1/2. Recall: the
    # ball of radius 9.5 around 0.5 covers all five real points -> 1.
    real = np.arange(5.0)[:, None]
    fake = np.array([[0.5], [10.0]])
    assert metrics.precision_recall(real, fake, k=1) == (0.5, 1.0)


def _precision_recall_brute_force(real, fake, k):
    def radii(x):
        d = scipy.spatial.distance.cdist(x, x)
        return np.sort(d, axis=1)[:, k]

    d = scipy.spatial.distance.cdist(fake, real)  # (fake, real)
    precision = np.mean(np.any(d <= radii(real)[None, :], axis=1))
    recall = np.mean(np.any(d.T <= radii(fake)[None, :], axis=1))
    return precision, recall


def test_precision_recall_matches_brute_force_in_small_chunks():
    rng = np.random.default_rng(18)
    real, fake = rng.normal(size=(200, 6)), rng.normal(0.3, 1.2, size=(150, 6))
    expected = _precision_recall_brute_force(real, fake, k=3)
    assert metrics.precision_recall(real, fake, k=3, chunk_size=7) == \
        pytest.approx(expected)
    assert 0.0 < expected[0] < 1.0 and 0.0 < expected[1] < 1.0  # a non-trivial case


# -- Feature extractors ----------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist_test_digits():
    from gan_tf.metrics import evaluation

    return evaluation.real_images("mnist_sample", "test", 500)


@pytest.fixture(scope="module")
def mnist_extractor():
    return metrics.ClassifierExtractor("mnist_sample")


def test_bundled_mnist_classifier_classifies_held_out_digits(mnist_extractor,
                                                            mnist_test_digits):
    images, labels = mnist_test_digits
    extracted = mnist_extractor.extract(images)
    assert extracted.features.shape == (500, 128)
    assert extracted.features.dtype == np.float32
    np.testing.assert_allclose(extracted.probabilities.sum(axis=1), 1.0, atol=1e-5)
    accuracy = np.mean(np.argmax(extracted.probabilities, axis=1) == labels)
    assert accuracy >= 0.97
    # Features are scaled to RMS ~1 on real digits.
    assert 0.5 < np.sqrt(np.mean(extracted.features ** 2)) < 2.0
    # Real digits: IS close to 10, and two halves of them close in FID.
    assert metrics.inception_score(extracted.probabilities, num_splits=2)[0] > 8.5


def test_bundled_weights_are_small_and_documented():
    for name in features.CLASSIFIERS:
        weights, metadata = features.classifier_paths(name)
        assert os.path.getsize(weights) < 2e6
        with open(metadata) as f:
            info = json.load(f)
        assert info["test_accuracy"] >= (0.98 if name == "mnist" else 0.88)
        assert "train_classifier" in info["command"]


def test_fashion_classifier_loads(mnist_test_digits):
    extractor = metrics.ClassifierExtractor("fashion_mnist")
    extracted = extractor.extract(mnist_test_digits[0][:10])
    assert extracted.features.shape == (10, 128)
    assert extractor.class_names[0] == "T-shirt/top"


def test_classifier_extractor_measures_in_float32_after_a_mixed_precision_run(
        mnist_test_digits):
    # A training run sets the global policy (trainer.setup); an extractor built after
    # it in the same process must still give float32 softmax rows that sum to 1.
    before = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        extractor = metrics.ClassifierExtractor("mnist_sample")
    finally:
        keras.mixed_precision.set_global_policy(before)
    extracted = extractor.extract(mnist_test_digits[0][:50])
    assert extracted.probabilities.dtype == np.float32
    np.testing.assert_allclose(extracted.probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert metrics.inception_score(extracted.probabilities, num_splits=1)[0] > 1.0


def test_classifier_extractor_rejects_unknown_data_and_shapes(mnist_extractor):
    with pytest.raises(ValueError, match="no bundled classifier for 'cifar10'"):
        metrics.ClassifierExtractor("cifar10")
    with pytest.raises(ValueError, match=r"takes images of shape \(28, 28, 1\)"):
        mnist_extractor.extract(np.zeros((2, 32, 32, 3), np.float32))
    with pytest.raises(metrics.WeightsNotFoundError, match="train_classifier"):
        metrics.ClassifierExtractor("mnist", weights_path="/nonexistent/x.weights.h5")


def test_classifier_config_round_trip():
    model = metrics.Classifier(num_classes=3, image_shape=(8, 8, 1), feature_dim=4)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
    assert isinstance(clone, metrics.Classifier)
    assert clone.get_config()["feature_dim"] == 4
    clone.build()
    assert clone(np.zeros((2, 8, 8, 1), np.float32)).shape == (2, 3)
    assert clone.features(np.zeros((2, 8, 8, 1), np.float32)).shape == (2, 4)


def test_inception_without_weights_explains_how_to_get_them():
    with pytest.raises(metrics.WeightsNotFoundError) as error:
        metrics.InceptionExtractor(None)
    message = str(error.value)
    assert features.INCEPTION_WEIGHTS_FILE in message
    assert "--inception_weights" in message
    with pytest.raises(FileNotFoundError, match="/missing.h5 does not exist"):
        metrics.get_extractor("inception", inception_weights="/missing.h5")


@pytest.mark.slow
def test_inception_with_random_weights_gives_2048_features(tmp_path):
    keras.utils.set_random_seed(0)
    path = str(tmp_path / "inception_random.weights.h5")
    keras.applications.InceptionV3(weights=None).save_weights(path)
    extractor = metrics.InceptionExtractor(path, batch_size=2)
    extracted = extractor.extract(np.zeros((3, 28, 28, 1), np.float32))
    assert extracted.features.shape == (3, 2048)
    assert extracted.probabilities.shape == (3, 1000)
    np.testing.assert_allclose(extracted.probabilities.sum(axis=1), 1.0, atol=1e-4)
    # A file without the classification top gives features only.
    notop = str(tmp_path / "inception_notop.weights.h5")
    keras.applications.InceptionV3(weights=None, include_top=False, pooling="avg",
                                   input_shape=(299, 299, 3)).save_weights(notop)
    extracted = metrics.InceptionExtractor(notop).extract(np.zeros((2, 32, 32, 3)))
    assert extracted.features.shape == (2, 2048) and extracted.probabilities is None


# -- Training-time evaluation ----------------------------------------------------------


def test_frechet_callback_logs_fid_and_keeps_the_best_checkpoint(tmp_path, mnist_extractor,
                                                                mnist_test_digits):
    gan = small_gan()
    history = str(tmp_path / "history.json")
    evaluation = metrics.FrechetEvaluation(
        real_images=mnist_test_digits[0][:64], extractor=mnist_extractor, every=2,
        num_samples=64, checkpoint_dir=str(tmp_path / "ckpt"),
        plot_path=str(tmp_path / "metrics.png"), kid_subsets=2, kid_subset_size=32)
    gan.fit(image_dataset(num=32), epochs=3, verbose=0,
            callbacks=[evaluation, callbacks.HistoryFile(history)])
    with open(history) as f:
        logged = json.load(f)
    # Evaluated at epoch 2 (every=2) and at the last epoch; None where not evaluated.
    assert logged["epoch"] == [1, 2, 3]
    assert logged["fid"][0] is None and all(v > 0 for v in logged["fid"][1:])
    assert len(logged["kid"]) == 3 and len(logged["d_loss"]) == 3
    assert evaluation.records["epoch"] == [2, 3]
    assert os.path.exists(tmp_path / "metrics.png")
    with open(tmp_path / "ckpt" / "best.json") as f:
        best = json.load(f)
    assert best["fid"] == min(evaluation.records["fid"])
    assert os.path.exists(tmp_path / "ckpt" / "best.weights.h5")
    # The FID logged is the metric on the features of the fixed latents' images.
    fid, _ = evaluation.evaluate()
    fake = mnist_extractor.extract(gan.generate(latents=gan.sample_latents(64, seed=0)))
    assert fid == pytest.approx(metrics.frechet_distance(evaluation.real_features,
                                                         fake.features))


def test_train_with_eval_every_records_fid(tmp_path):
    config = configs.override(configs.quick(configs.get("default")), **{
        "callbacks.eval_every": 1, "callbacks.eval_samples": 64})
    workdir = str(tmp_path / "run")
    trainer.train_and_evaluate(config, workdir, verbose=0)
    with open(os.path.join(workdir, "history.json")) as f:
        logged = json.load(f)
    assert len(logged["fid"]) == len(logged["kid"]) == 2
    assert all(v > 0 for v in logged["fid"])
    for name in ("metrics.png", "checkpoints/best.weights.h5", "checkpoints/best.json"):
        assert os.path.exists(os.path.join(workdir, name)), name
    assert any(f.startswith("events") for f in os.listdir(os.path.join(workdir, "logs",
                                                                         "train")))
    with pytest.raises(ValueError, match="no bundled classifier|none for 'cifar10'"):
        tasks.validate(configs.override(config, **{"data.name": "cifar10"}))
