"""Quality of the conditional and InfoGAN variants, measured with the MNIST classifier.

    python benchmarks/variant_quality.py cgan 25 [OUTPUT_DIR]
    python benchmarks/variant_quality.py infogan 25 [OUTPUT_DIR]

cgan: trains on mnist_sample with labels, generates 1,000 images of each requested
digit and prints the share the bundled classifier assigns to the requested class.
infogan: trains without labels, generates 10,000 images, and prints the classifier's
agreement with the categorical code under the best one-to-one code-to-digit matching
(Hungarian algorithm). Both write sample grids under OUTPUT_DIR (default /tmp/<name>).
"""
import json
import sys
import time

import keras
import numpy as np
from scipy.optimize import linear_sum_assignment

import gan_tf
from gan_tf import callbacks, data, metrics, models, viz

which, epochs = sys.argv[1], int(sys.argv[2])
out = sys.argv[3] if len(sys.argv) > 3 else f"/tmp/{which}"
keras.utils.set_random_seed(0)
opt = lambda: keras.optimizers.Adam(5e-4, beta_1=0.5)
if which == "cgan":
    ds = data.load("mnist_sample", batch_size=64, with_labels=True, seed=0)
    gan = gan_tf.GAN(models.conditional.Generator(100, body_kwargs={"base_channels": 32}),
                     models.conditional.Discriminator(body_kwargs={"base_channels": 32}),
                     latent_dim=100, seed=0, conditional=True)
    gan.compile(opt(), opt())
else:
    ds = data.load("mnist_sample", batch_size=64, seed=0)
    gan = gan_tf.GAN(models.infogan.Generator(74, base_channels=32),
                     models.infogan.Discriminator(body_kwargs={"base_channels": 32, "dropout": 0.0}),
                     latent_dim=74, seed=0)
    gan.compile(opt(), opt(), loss="infogan")
t = time.time()
gan.fit(ds, epochs=epochs, verbose=2, callbacks=[callbacks.SampleGrid(out + "/samples")])
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
    codes = lat[:, 62:72].argmax(1)
    pred = clf.extract(gan.generate(latents=lat)).probabilities.argmax(1)
    confusion = np.zeros((10, 10))
    for c, p in zip(codes, pred): confusion[c, p] += 1
    rows, cols = linear_sum_assignment(-confusion)
    acc = float(confusion[rows, cols].sum() / n)
    viz.save_image_grid(gan.generate(latents=viz.code_latents(gan, 10, seed=3)), out + "/code_grid.png", columns=10)
    print(json.dumps({"infogan_matched_accuracy": acc, "mapping": {int(r): int(c) for r, c in zip(rows, cols)}}))
