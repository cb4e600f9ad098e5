"""Sample-quality metrics and the feature extractors they run on.

Pure functions on feature matrices (`distances.py`):

    frechet_distance(real_features, fake_features) -> float
    kernel_inception_distance(real_features, fake_features, num_subsets=100,
                              subset_size=1000) -> float
    inception_score(probabilities, num_splits=10) -> (mean, std)
    precision_recall(real_features, fake_features, k=3) -> (precision, recall)

Feature extractors (`features.py`): `ClassifierExtractor("mnist" | "fashion_mnist")`,
small CNNs trained by the project with their weights bundled (offline), and
`InceptionExtractor(weights_path)` for keras.applications.InceptionV3 with a weights
file the user supplies. `get_extractor(kind, dataset, inception_weights)` picks one.

Training-time evaluation: `FrechetEvaluation`, a callback adding FID/KID to the logs
every N epochs and keeping the best checkpoint. The CLI is `python -m gan_tf.evaluate`.

Example:

    from gan_tf import metrics
    extractor = metrics.ClassifierExtractor("mnist")
    real = extractor.extract(real_images)              # Features(features, probabilities)
    fake = extractor.extract(gan.generate(10_000, seed=0))
    metrics.frechet_distance(real.features, fake.features)
    metrics.inception_score(fake.probabilities)
"""

from gan_tf.metrics.frechet_evaluation import FrechetEvaluation
from gan_tf.metrics.distances import feature_statistics
from gan_tf.metrics.distances import frechet_distance
from gan_tf.metrics.distances import frechet_distance_from_statistics
from gan_tf.metrics.distances import inception_score
from gan_tf.metrics.distances import kernel_inception_distance
from gan_tf.metrics.distances import mmd2_unbiased
from gan_tf.metrics.distances import polynomial_kernel
from gan_tf.metrics.distances import precision_recall
from gan_tf.metrics.evaluation import compute_metrics
from gan_tf.metrics.features import Classifier
from gan_tf.metrics.features import ClassifierExtractor
from gan_tf.metrics.features import Features
from gan_tf.metrics.features import get_extractor
from gan_tf.metrics.features import InceptionExtractor
from gan_tf.metrics.features import WeightsMismatchError
from gan_tf.metrics.features import WeightsNotFoundError
