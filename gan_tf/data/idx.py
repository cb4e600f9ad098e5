"""IDX files, the format of MNIST and Fashion-MNIST: finding the four files and the one
reader of the project (`tools/train_classifier.py` uses it too).

Layout of an IDX file of unsigned bytes: 2 zero bytes, the type code 0x08 (uint8), the
rank r, r big-endian uint32 sizes, then prod(sizes) bytes; the original files are
gzipped.
"""

import gzip
import math
import os
import struct
import zlib

import numpy as np

from gan_tf.data.errors import DatasetUnavailableError
from gan_tf.data.errors import DataFileError

# split -> file prefix of the original distribution (LeCun's site, Zalando's repo)
IDX_PREFIXES = {"train": "train", "test": "t10k"}
IDX_FILES_HELP = (
    "the four original IDX files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
    "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (gzipped or not; for "
    "Fashion-MNIST `apt-get install dataset-fashion-mnist` puts them in "
    "/usr/share/datasets/fashion-mnist)")
_GZIP_MAGIC = b"\x1f\x8b"


def idx_candidates(prefix, kind):
    """The file names one IDX file goes by, preferred first.

    Args:
        prefix: "train" or "t10k".
        kind: "images" (rank 3) or "labels" (rank 1).
    """
    rank = 3 if kind == "images" else 1
    stems = (f"{prefix}-{kind}-idx{rank}-ubyte", f"{prefix}-{kind}.idx{rank}-ubyte")
    return [stem + suffix for stem in stems for suffix in (".gz", "")]


def idx_files(manual_dir):
    """Finds the four IDX files of MNIST / Fashion-MNIST in `manual_dir`.

    Returns:
        {split: (images_path, labels_path)} for "train" and "test".

    Raises:
        DatasetUnavailableError: a file is missing; the message lists the expected names.
    """
    found, missing = {}, []
    for split, prefix in IDX_PREFIXES.items():
        paths = []
        for kind in ("images", "labels"):
            names = idx_candidates(prefix, kind)
            hits = [os.path.join(manual_dir, n) for n in names
                    if os.path.isfile(os.path.join(manual_dir, n))]
            if hits:
                paths.append(hits[0])
            else:
                missing.append(names[0])
        found[split] = tuple(paths)
    if missing:
        raise DatasetUnavailableError(
            f"manual_dir {manual_dir!r} lacks {', '.join(missing)} (gzipped or not). It "
            f"needs {IDX_FILES_HELP}")
    return found


def _read_bytes(path):
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as error:  # gzip: bad CRC, cut or bad stream
        raise DataFileError(f"{path} cannot be read ({type(error).__name__}: {error}); "
                            f"the file is corrupt or incomplete: download it again") from None


def read_idx(path):
    """Reads an IDX file of unsigned bytes (MNIST format), gzipped or not.

    Returns:
        uint8 array of the sizes in the header, e.g. (60000, 28, 28).

    Raises:
        DataFileError (a ValueError): unreadable, corrupt gzip, not an IDX file of
            bytes, a header shorter than its rank says, or data of another length than
            the header's sizes; the message names the file and the fix.
    """
    raw = _read_bytes(path)
    if raw[:2] == _GZIP_MAGIC and not path.endswith(".gz"):
        raise DataFileError(f"{path} is gzipped but its name does not end in .gz: "
                            f"rename it to {os.path.basename(path)}.gz")
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 0x08 or not 1 <= raw[3] <= 4:
        raise DataFileError(f"{path} is not an IDX file of unsigned bytes (magic number "
                            f"{raw[:4].hex()}, expected 0000080N); download it again")
    rank = raw[3]
    header_bytes = 4 + 4 * rank
    if len(raw) < header_bytes:
        raise DataFileError(f"{path} is truncated or corrupt: its rank {rank} needs a "
                            f"{header_bytes}-byte header, the file has {len(raw)} bytes; "
                            f"download it again")
    sizes = struct.unpack(f">{rank}I", raw[4:header_bytes])
    expected, held = math.prod(sizes), len(raw) - header_bytes
    if held != expected:
        raise DataFileError(f"{path} is truncated or corrupt: its header says {sizes} "
                            f"({expected:,} bytes), it holds {held:,}; download it again")
    return np.frombuffer(raw, np.uint8, offset=header_bytes).reshape(sizes)
