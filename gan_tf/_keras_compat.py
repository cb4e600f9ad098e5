"""The few places where gan_tf reaches past Keras' public API, each with a public fallback.

Keras writes a model's weights only to a file path; a checkpoint written through a
path that fails half-way (a full disk) leaves an HDF5 file open inside Keras, whose
close at exit can crash the interpreter. `weights_to_bytes` therefore builds the
`.weights.h5` image in memory, through Keras' own weights store (the layout of
`model.save_weights`, so `model.load_weights` reads the file), and gan_tf writes the
bytes itself (gan_tf.fileio: atomic, any filesystem). Should a Keras release change
those internals, both functions fall back to `save_weights` / `load_weights` on a
private temporary file, with the same results.
"""

import io
import os
import shutil
import tempfile
import warnings

import keras

try:  # internals of keras.saving (3.x); see the module docstring
    from keras.src.saving import saving_lib as _saving_lib
except ImportError:  # pragma: no cover - a Keras without them takes the fallback
    _saving_lib = None


class WeightsMismatchError(ValueError):
    """The weights do not fit the model (another architecture or missing slots)."""


def weights_to_bytes(model):
    """The bytes of `model.save_weights("x.weights.h5")`, made in memory."""
    try:
        buffer = io.BytesIO()
        store = _saving_lib.H5IOStore(buffer, mode="w")
        try:
            _saving_lib._save_state(model, store, None, "", set())
        finally:
            store.close()
        return buffer.getvalue()
    except (AttributeError, TypeError):  # the internals moved: public API
        return _through_file(lambda path: model.save_weights(path), read=True)


def load_weights_from_bytes(model, data):
    """Loads `.weights.h5` bytes into `model` (built, optimizers built).

    Raises:
        WeightsMismatchError: a variable of the file does not fit the model, or the
            model has state the file lacks (e.g. optimizer slots); nothing is
            guaranteed about the model's weights then.
        OSError, ValueError: the bytes are not a readable weights file.
    """
    try:
        store = _saving_lib.H5IOStore(io.BytesIO(data), mode="r")
    except (AttributeError, TypeError):
        store = None
    if store is None:
        _through_file(lambda path: _load_public(model, path), data=data)
        return
    failed, messages = set(), {}
    try:
        _saving_lib._load_state(model, store, None, "", False, set(), failed, messages)
    finally:
        store.close()
    if failed:
        name, (_, error) = next(iter(messages.items()))
        raise WeightsMismatchError(f"{len(messages)} objects do not fit, e.g. {name}: "
                                   f"{str(error).strip().splitlines()[0]}")


def _load_public(model, path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.load_weights(path)
    skipped = [str(w.message) for w in caught if "Skipping" in str(w.message)]
    if skipped:  # Keras only warns when an optimizer's slots do not match
        raise WeightsMismatchError(skipped[0].strip().splitlines()[0])


def _through_file(action, data=None, read=False):
    folder = tempfile.mkdtemp(prefix="gan_tf-weights-")
    path = os.path.join(folder, "model.weights.h5")
    try:
        if data is not None:
            with open(path, "wb") as f:
                f.write(data)
        action(path)
        if read:
            with open(path, "rb") as f:
                return f.read()
        return None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def random_states(model):
    """The state variables of every `keras.random.SeedGenerator` in `model`
    (its noise, dropout masks, augmentation...), in a fixed order.

    `model.variables` holds them and `model.weights` does not; `save_weights` keeps
    only the latter, so gan_tf saves these itself (see AdversarialModel).
    """
    weights = {id(w) for w in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def keras_version():
    return tuple(int(p) for p in keras.__version__.split(".")[:2])
