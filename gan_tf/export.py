"""Exported generators: TensorFlow SavedModels that run without gan_tf.

    export_gan(gan, path)            what `GAN.export_generator` writes
    export_cyclegan(model, path)     what `CycleGAN.export_generator` writes
    load_generator(path)             an export read back (gan_tf.evaluate)
    damaged_part(path)               the part of an export that does not read back

Each export is written into a temporary folder swapped into place (`write`), so a
failed, interrupted or killed export leaves the previous one (or nothing) there; the
files of that folder that gan_tf did not write (a user's) are kept. `gan_tf_export.json`
(EXPORT_METADATA) beside the SavedModel records what the export takes and gives.
An export is a TensorFlow program: load only ones you trust (docs/reliability.md,
"Trust").
"""

import json
import os

import keras
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from gan_tf import _faults
from gan_tf import fileio
from gan_tf import interrupt
from gan_tf import noise

EXPORT_METADATA = "gan_tf_export.json"


class ExportError(ValueError):
    """An export that cannot be read; the message names the file and the fix."""


def write(path, archive, metadata):
    """Writes `archive` (a keras.export.ExportArchive) and `metadata` (the JSON of
    EXPORT_METADATA) to `path` through a temporary folder swapped into place
    (`fileio.replace_folder`); returns the path. A failed, interrupted or killed
    export leaves the previous one (or nothing) there, and the next one finishes a
    swap a kill cut short. Files of that folder that gan_tf did not write (a user's)
    are kept."""
    path = str(path).rstrip("/")
    with interrupt.critical():
        tmp = fileio.temporary_folder(path)
        try:
            archive.write_out(tmp, verbose=False)
            fileio.write_atomic(fileio.join(tmp, EXPORT_METADATA),
                                json.dumps(metadata, indent=2))
            _faults.point("export", "written")
            fileio.replace_folder(tmp, path)
        except BaseException:
            fileio.rmtree(tmp)
            raise
    _faults.point("export", "done")
    return path


def damaged_part(path):
    """The part of the SavedModel at `path` that does not read back: its
    saved_model.pb when that does not parse, its variables/ when a weight does not
    read (TensorFlow checks each one's checksum); None when both read.

    Reads every weight once (as loading it would), without running the graph.
    """
    graph = fileio.join(path, "saved_model.pb")
    try:
        saved_model_pb2.SavedModel().ParseFromString(fileio.read_bytes(graph))
    except Exception:  # noqa: BLE001 - protobuf's DecodeError, a missing file
        return graph
    try:
        reader = tf.train.load_checkpoint(fileio.join(path, "variables", "variables"))
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except Exception:  # noqa: BLE001 - DataLossError, NotFoundError, ...
        return fileio.join(path, "variables") + "/"
    return None


def export_gan(gan, path):
    """Writes the sampling generator of `gan` (a `GAN`) as a SavedModel at `path`;
    returns the path. The endpoints are documented at `GAN.export_generator`."""
    if not gan.built:
        gan.build()
    archive = keras.export.ExportArchive()
    archive.track(gan.sampling_generator)
    serve, signature = _serve_function(gan)
    archive.add_endpoint("serve", serve, input_signature=signature)
    archive.add_endpoint("sample", _sample_function(gan), input_signature=[
        tf.TensorSpec((), tf.int32, name="num"), tf.TensorSpec((), tf.int32, name="seed")])
    image_shape = gan.generate(1, seed=0).shape[1:]
    metadata = {"latent_dim": gan.latent_dim,
                "latent_distribution": gan.latent_distribution,
                "conditional": gan.conditional, "num_classes": gan.num_classes,
                "code_layout": list(gan.code_layout),
                "image_shape": list(image_shape), "sample": True,
                "train_steps": gan.train_steps}
    return write(path, archive, metadata)


def _serve_function(gan):
    generator = gan.sampling_generator
    signature = [tf.TensorSpec((None, gan.latent_dim), tf.float32, name="latents")]
    if gan.conditional:
        signature.append(tf.TensorSpec((None,), tf.int32, name="labels"))

        def serve(latents, labels):
            return tf.cast(generator((latents, labels), training=False), tf.float32)
    else:
        def serve(latents):
            return tf.cast(generator(latents, training=False), tf.float32)
    return serve, signature


def _sample_function(gan):
    generator = gan.sampling_generator
    latent_dim, distribution = gan.latent_dim, gan.latent_distribution
    code_layout, num_classes = gan.code_layout, gan.num_classes

    def sample(num, seed):
        latents = noise.latents(num, tf.stack([seed, 0]), latent_dim, distribution,
                                code_layout)
        inputs = latents
        if num_classes:
            inputs = (latents, tf.math.floormod(tf.range(num), num_classes))
        return tf.cast(generator(inputs, training=False), tf.float32)
    return sample


def export_cyclegan(model, path):
    """Writes both generators of `model` (a `CycleGAN`) as one SavedModel at `path`;
    returns the path. The endpoints are documented at `CycleGAN.export_generator`."""
    if not model.built:
        model.build()
    shape_a = tuple(model.g_ab.input_shape[1:])
    shape_b = tuple(model.g_ba.input_shape[1:])
    g_ab, g_ba = model.g_ab, model.g_ba

    def serve(images):
        return tf.cast(g_ab(images, training=False), tf.float32)

    def b2a(images):
        return tf.cast(g_ba(images, training=False), tf.float32)

    archive = keras.export.ExportArchive()
    archive.track(g_ab)
    archive.track(g_ba)
    archive.add_endpoint("serve", serve, input_signature=[
        tf.TensorSpec((None, *shape_a), tf.float32, name="images")])
    archive.add_endpoint("b2a", b2a, input_signature=[
        tf.TensorSpec((None, *shape_b), tf.float32, name="images")])
    return write(path, archive, {
        "model": "cyclegan", "serve": "a2b", "image_shape_a": list(shape_a),
        "image_shape_b": list(shape_b), "train_steps": model.train_steps})


def load_generator(path):
    """Loads an exported generator of a `GAN`.

    An exported generator is a TensorFlow program: it runs whatever graph it holds.
    Load only ones you trust (docs/reliability.md, "Trust").

    Returns:
        (serve function latents [, labels] -> images, metadata dict with latent_dim,
        latent_distribution, conditional, image_shape; and "sample": the export's
        sample(num, seed) -> images function when it has one).

    Raises:
        ExportError: not a gan_tf export, a CycleGAN's, or a damaged one (the message
            names the file).
    """
    metadata_path = fileio.join(path, EXPORT_METADATA)
    if not fileio.isdir(path) or not fileio.exists(metadata_path):
        raise ExportError(f"{path} is not an exported generator (no {EXPORT_METADATA}); "
                          "train one with python -m gan_tf.train --workdir=DIR, or "
                          "GAN.export_generator(path)")
    metadata = _read_metadata(metadata_path)
    if metadata.get("model") == "cyclegan":
        raise ExportError(f"{path} is a CycleGAN export (images -> images, no latents); "
                          "measure its workdir with python -m benchmarks.cyclegan_quality "
                          f"{os.path.dirname(os.path.abspath(path))} (from the gan_tf "
                          "repository's root)")
    try:
        model = tf.saved_model.load(path)
    except Exception as error:  # noqa: BLE001 - protobuf, checkpoint and OS errors
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ExportError(f"cannot load the exported generator: {_damaged_part(path)} is "
                          f"damaged ({type(error).__name__}: {first[:160]}); export it "
                          "again (run the training command once more, or "
                          "GAN.export_generator)") from error

    if not callable(getattr(model, "serve", None)):
        raise ExportError(f"{path} is a SavedModel without gan_tf's serve function (not "
                          "a gan_tf export, whatever its gan_tf_export.json says); export "
                          "a generator with GAN.export_generator(path), or train one with "
                          "python -m gan_tf.train --workdir=DIR and pass --workdir=DIR")

    def serve(*args):  # holds `model`: its variables die with the last reference
        return model.serve(*args).numpy()

    if hasattr(model, "sample"):
        metadata["sample"] = lambda num, seed: model.sample(
            tf.constant(num, tf.int32), tf.constant(seed, tf.int32)).numpy()
    return serve, metadata


def _damaged_part(path):
    """The file of an export that does not load: saved_model.pb when it does not
    parse, else its variables/ (the checkpoint of the weights)."""
    graph = fileio.join(path, "saved_model.pb")
    try:
        saved_model_pb2.SavedModel().ParseFromString(fileio.read_bytes(graph))
    except Exception:  # noqa: BLE001 - protobuf's DecodeError, a missing file
        return graph
    return fileio.join(path, "variables") + "/"


def _read_metadata(path):
    try:
        metadata = json.loads(fileio.read_text(path))
        if not isinstance(metadata, dict):
            raise ValueError("not a JSON object")
        latent_dim = metadata.get("latent_dim")
        if metadata.get("model") != "cyclegan" and not (
                isinstance(latent_dim, int) and latent_dim > 0):
            raise ValueError(f"latent_dim must be a positive integer, got {latent_dim!r}")
        return metadata
    except ValueError as error:
        raise ExportError(f"{path} is damaged ({error}); export the generator again "
                          "(GAN.export_generator or the training command)") from error
