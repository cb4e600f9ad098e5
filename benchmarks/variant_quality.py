"""Speed and quality of a GAN variant's preset, measured with the MNIST classifier.

    python -m benchmarks.variant_quality PRESET EPOCHS [OUTPUT_DIR] [FIELD=VALUE ...]
    python -m benchmarks.variant_quality wgan_gp 10
    python -m benchmarks.variant_quality default 10 /tmp/ema model.ema_decay=0.999
    python -m benchmarks.variant_quality infogan 25 /tmp/infogan train.g_lr=1e-3

Trains the preset of that name (`--config=PRESET` of the CLI) with `GAN.fit` for the
given epochs on its data (the latent GAN presets train on mnist_sample, the 9,003
bundled MNIST digits); FIELD=VALUE pairs override config fields (values are Python
literals where they parse, strings otherwise). Then it prints, and appends to
benchmarks/variant_quality.json:

- images/s: real images consumed per second of `fit` (one per batch element and train
  step, whatever the number of critic steps), with the epoch-end sample grids;
- FID of 10,000 samples (`GAN.generate`, the EMA generator when enabled) against the
  bundled training digits, in the bundled MNIST classifier's features
  (docs/evaluation.md); lower is better;
- cgan: the share of 10,000 samples (1,000 per requested digit) that the classifier
  assigns to the requested digit;
- infogan: the classifier's agreement with the categorical code under the best
  one-to-one code-to-digit matching (Hungarian algorithm).

OUTPUT_DIR (default /tmp/<preset>) receives the epoch-end sample grids
(samples/epoch_NNNN.png, 8x8, fixed latents) and, for cgan, rows_by_label.png (one row
per requested digit) or, for infogan, code_grid.png (one row per code value).
"""
import ast
import json
import os
import sys
import time

import keras
import numpy as np
from scipy.optimize import linear_sum_assignment

from benchmarks import records
from gan_tf import callbacks, configs, data, metrics, precision, tasks, viz
from gan_tf.metrics import evaluation

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "variant_quality.json")


def _value(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    which, epochs = argv[0], int(argv[1])
    out = argv[2] if len(argv) > 2 and "=" not in argv[2] else f"/tmp/{which}"
    fields = dict(arg.split("=", 1) for arg in argv[2:] if "=" in arg)
    config = tasks.validate(configs.override(
        configs.get(which), **{"train.epochs": epochs},
        **{k: _value(v) for k, v in fields.items()}))
    print("config:", config.to_json())
    keras.mixed_precision.set_global_policy(precision.resolve(config.train.precision))
    gan = tasks.build_model(config)
    ds = data.load(config.data.name, batch_size=config.data.batch_size,
                   seed=config.train.seed, with_labels=gan.conditional)
    start = time.perf_counter()
    gan.fit(ds, epochs=config.train.epochs, verbose=2,
            callbacks=[callbacks.SampleGrid(os.path.join(out, "samples"), num_images=64,
                                            columns=8, seed=0)])
    seconds = time.perf_counter() - start
    images_trained = gan.train_steps * config.data.batch_size
    row = {"preset": which, "overrides": fields, "epochs": epochs,
           "precision": keras.mixed_precision.global_policy().name,
           "train_seconds": round(seconds, 1), "images": images_trained,
           "images_per_s": round(images_trained / seconds, 1)}

    extractor = metrics.ClassifierExtractor("mnist")
    real, _ = evaluation.real_images("mnist_sample", split="train", num_images=10_000)
    real_features = extractor.extract(real).features
    if gan.conditional:
        labels = np.arange(10_000) % 10
        result = extractor.extract(gan.generate(10_000, seed=1, labels=labels))
        row["requested_digit_accuracy"] = round(float(
            (result.probabilities.argmax(1) == labels).mean()), 4)
        viz.save_image_grid(gan.generate(100, seed=2, labels=np.repeat(np.arange(10), 10)),
                            os.path.join(out, "rows_by_label.png"), columns=10)
    elif gan.gan_loss.code_dim:
        latents = gan.sample_latents(10_000, seed=1).numpy()
        first = config.model.latent_dim - gan.gan_loss.code_dim
        codes = latents[:, first:first + 10].argmax(1)
        result = extractor.extract(gan.generate(latents=latents))
        confusion = np.zeros((10, 10))
        np.add.at(confusion, (codes, result.probabilities.argmax(1)), 1)
        rows, cols = linear_sum_assignment(-confusion)
        row["code_matched_accuracy"] = round(float(confusion[rows, cols].sum() / 10_000), 4)
        row["code_to_digit"] = {int(r): int(c) for r, c in zip(rows, cols)}
        viz.save_image_grid(gan.generate(latents=viz.code_latents(gan, 10, seed=3)),
                            os.path.join(out, "code_grid.png"), columns=10)
    else:
        result = extractor.extract(gan.generate(10_000, seed=1))
    row["fid"] = round(float(metrics.frechet_distance(real_features, result.features)), 2)
    print(json.dumps(row))
    records.append(RESULTS, "variant_quality", row)
    return row


if __name__ == "__main__":
    main(sys.argv[1:])
