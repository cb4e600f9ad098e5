"""Quality of the conditional and InfoGAN variants, measured with the MNIST classifier.

    python benchmarks/variant_quality.py cgan 25 [OUTPUT_DIR] [FIELD=VALUE ...]
    python benchmarks/variant_quality.py infogan 25 [OUTPUT_DIR] [FIELD=VALUE ...]

Trains the preset of that name (`--config=cgan` / `--config=infogan` of the CLI) for the
given epochs; FIELD=VALUE pairs override config fields, e.g. `train.g_lr=1e-3`.
cgan: generates 1,000 images of each requested digit and prints the share the bundled
classifier assigns to the requested class.
infogan: generates 10,000 images, and prints the classifier's agreement with the
categorical code under the best one-to-one code-to-digit matching (Hungarian algorithm).
Both write sample grids under OUTPUT_DIR (default /tmp/<name>).
"""
import ast
import json
import sys
import time

import numpy as np
from scipy.optimize import linear_sum_assignment

from gan_tf import callbacks, configs, data, metrics, train, viz


def _value(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


which, epochs = sys.argv[1], int(sys.argv[2])
out = sys.argv[3] if len(sys.argv) > 3 and "=" not in sys.argv[3] else f"/tmp/{which}"
fields = dict(arg.split("=", 1) for arg in sys.argv[3:] if "=" in arg)
config = configs.override(configs.get(which), **{"train.epochs": epochs},
                          **{k: _value(v) for k, v in fields.items()})
print("config:", config.to_json())
gan = train.build_gan(config)
ds = data.load(config.data.name, batch_size=config.data.batch_size, seed=config.train.seed,
               with_labels=gan.conditional)
t = time.time()
gan.fit(ds, epochs=config.train.epochs, verbose=2, callbacks=[callbacks.SampleGrid(out + "/samples")])
print("train seconds", time.time() - t)
clf = metrics.ClassifierExtractor("mnist")
if which == "cgan":
    labels = np.arange(10000) % 10
    images = gan.generate(10000, seed=1, labels=labels)
    pred = clf.extract(images).probabilities.argmax(1)
    acc = float((pred == labels).mean())
    viz.save_image_grid(gan.generate(100, seed=2, labels=np.repeat(np.arange(10), 10)), out + "/rows_by_label.png", columns=10)
    print(json.dumps({"cgan_accuracy": acc}))
else:
    n = 10000
    lat = gan.sample_latents(n, seed=1).numpy()
    first = config.model.latent_dim - gan.gan_loss.code_dim
    codes = lat[:, first:first + 10].argmax(1)
    pred = clf.extract(gan.generate(latents=lat)).probabilities.argmax(1)
    confusion = np.zeros((10, 10))
    for c, p in zip(codes, pred): confusion[c, p] += 1
    rows, cols = linear_sum_assignment(-confusion)
    acc = float(confusion[rows, cols].sum() / n)
    viz.save_image_grid(gan.generate(latents=viz.code_latents(gan, 10, seed=3)), out + "/code_grid.png", columns=10)
    print(json.dumps({"infogan_matched_accuracy": acc, "mapping": {int(r): int(c) for r, c in zip(rows, cols)}}))
