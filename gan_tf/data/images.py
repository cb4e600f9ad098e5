"""Image files: a cheap check that a file will decode, and what to do with those that
will not (`on_bad_image`).

`inspect_image` reads a PNG's or JPEG's header (size, channels) and its last bytes (the
end marker a truncated file lacks) without decoding pixels: tens of microseconds a file.
A PNG's chunks are checked against their CRCs too, so a PNG damaged in the middle is
found as well. Files whose end marker is missing, and files of other formats under an
image name, are decoded once with TensorFlow's own decoder, the one the pipeline uses,
so what passes the check decodes in training. A JPEG damaged in the middle but
complete at both ends passes (JPEG has no checksum); the pipeline meets it when
decoding (see `load`'s `on_bad_image`).
"""

import io
import re
import struct
import zlib

from absl import logging
import tensorflow as tf

from gan_tf import configs
from gan_tf.data.errors import DataFileError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the IEND chunk: length 0, type, CRC
_PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 1, 6: 3}  # colour type -> channels decoded
_JPEG_START, _JPEG_END = b"\xff\xd8", b"\xff\xd9"
# Start-of-frame markers (the frame header holds the size); C4, C8 and CC are not.
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE = frozenset(range(0xD0, 0xD8)) | {0x01}  # markers without a length


def check_on_bad_image(on_bad_image):
    """Raises ValueError unless `on_bad_image` is "fail" or "skip"."""
    if on_bad_image not in configs.ON_BAD_IMAGE:
        raise ValueError(f"on_bad_image must be one of "
                         f"{', '.join(configs.ON_BAD_IMAGE)}, got {on_bad_image!r}")


def _png_header(head):
    if len(head) < 26 or head[12:16] != b"IHDR":
        raise DataFileError("a PNG without its IHDR header")
    width, height, _, colour_type = struct.unpack(">IIBB", head[16:26])
    if colour_type not in _PNG_CHANNELS:
        raise DataFileError(f"a PNG of unknown colour type {colour_type}")
    return height, width, _PNG_CHANNELS[colour_type]


def _check_png_chunks(f, size):
    """Raises DataFileError unless every chunk of the PNG `f` (of `size` bytes) lies
    within the file and matches its CRC-32, up to IEND: bytes damaged anywhere in a
    PNG (its pixels included) are found without decoding them (zlib's CRC costs
    little beside reading the file)."""
    f.seek(len(_PNG_SIGNATURE))
    while True:
        offset = f.tell()
        header = f.read(8)
        if len(header) < 8:
            raise DataFileError(f"a PNG whose chunks end at byte {offset} before IEND")
        length, kind = struct.unpack(">I4s", header)
        if offset + 12 + length > size:
            raise DataFileError(f"a PNG whose chunk at byte {offset} runs past the "
                                "file's end: corrupt")
        body = f.read(length)
        (crc,) = struct.unpack(">I", f.read(4))
        if zlib.crc32(body, zlib.crc32(kind)) != crc:
            name = kind.decode("latin-1") if kind.isalpha() else "?"
            raise DataFileError(f"a PNG whose {name} chunk at byte {offset} fails its "
                                "CRC: corrupt")
        if kind == b"IEND":
            return


def _jpeg_header(f):
    """(height, width, channels) from the JPEG's frame header; `f` is past SOI."""
    while True:
        marker = f.read(2)
        while marker[:1] == b"\xff" and marker[1:] == b"\xff":  # fill bytes
            marker = marker[1:] + f.read(1)
        if len(marker) < 2 or marker[0] != 0xFF:
            raise DataFileError("a JPEG whose markers end before its frame header")
        code = marker[1]
        if code in _JPEG_STANDALONE:
            continue
        if code in (0xD9, 0xDA):  # end of image, start of scan: no frame header
            raise DataFileError("a JPEG without a frame header")
        length_bytes = f.read(2)
        if len(length_bytes) < 2:
            raise DataFileError("a JPEG cut inside its header")
        (length,) = struct.unpack(">H", length_bytes)
        if code in _JPEG_FRAMES:
            frame = f.read(6)
            if len(frame) < 6:
                raise DataFileError("a JPEG cut inside its frame header")
            _, height, width, components = struct.unpack(">BHHB", frame)
            # CMYK (4 components) decodes as RGB only: count it as colour.
            return height, width, 1 if components == 1 else 3
        f.seek(length - 2, io.SEEK_CUR)


def decode_with_tensorflow(encoded):
    """(height, width, 3) of an image TensorFlow decodes as RGB; DataFileError if not."""
    try:
        shape = tf.io.decode_image(encoded, channels=3, expand_animations=False).shape
    except tf.errors.OpError as error:
        # "{{function_node ...}} Unknown image file format. [Op:DecodeImage]" -> the middle
        reason = re.sub(r"\{\{.*?\}\}|\[Op:.*?\]", "", str(error.message or "")).strip()
        reason = reason.rstrip(".") or "no reason given"
        raise DataFileError(f"TensorFlow cannot decode it ({reason}): truncated, corrupt "
                            f"or not an image") from None
    return int(shape[0]), int(shape[1]), 3


def inspect_image(source):
    """Checks that an image file decodes and returns its shape, without decoding pixels
    where its header and end marker suffice.

    PNG: the IHDR header, a final IEND chunk and every chunk's CRC. JPEG: the frame header and a final EOI
    marker. A file lacking its end marker, or of another format (GIF, BMP, WebP under a
    .png/.jpg name), is decoded once by `tf.io.decode_image`, so every file that passes
    decodes in the pipeline. Other formats decode as RGB only, so they count as colour.

    Args:
        source: a path, bytes, or a seekable binary file object.

    Returns:
        (height, width, channels), channels 1 (grayscale PNG/JPEG) or 3.

    Raises:
        DataFileError: the file cannot be decoded; the message says why, not which
            file (the caller names it).
        OSError: the file cannot be opened.
    """
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    if not hasattr(source, "read"):
        with open(source, "rb") as f:
            return inspect_image(f)
    head = source.read(26)
    size = source.seek(0, io.SEEK_END)
    if size == 0:
        raise DataFileError("an empty file")
    if head[:8] == _PNG_SIGNATURE:
        shape, end = _png_header(head), _PNG_END
    elif head[:2] == _JPEG_START:
        source.seek(2)
        shape, end = _jpeg_header(source), _JPEG_END
    else:
        shape, end = None, None
    if shape is not None:
        if min(shape[:2]) < 1:
            raise DataFileError(f"an image of size {shape[1]}x{shape[0]}")
        source.seek(max(0, size - len(end)))
        if source.read() == end:
            if end == _PNG_END:
                _check_png_chunks(source, size)
            return shape
    source.seek(0)
    decoded = decode_with_tensorflow(source.read())
    return shape or decoded  # trailing bytes after the end marker: fine once decoded


def bad_images_message(bad, total, where):
    """One line: how many of `total` files in `where` are unreadable, examples, the fix.

    Args:
        bad: [(file, reason)] of the unreadable files.
        total: files looked at.
        where: the folder or archive, e.g. "folder /data/faces".
    """
    examples = "; ".join(f"{path}: {error}" for path, error in bad[:3])
    return (f"{len(bad)} of {total} image files in {where} cannot be read ({examples}). "
            f"Fix or delete them, or pass on_bad_image='skip' (CLI: --on_bad_image=skip) "
            f"to skip them")


def report_bad_images(bad, total, where, on_bad_image):
    """Raises DataFileError for unreadable images ("fail"), or logs how many are skipped.

    Args:
        bad: [(file, reason)] of the unreadable files; nothing happens when empty.
        total, where: see `bad_images_message`.
        on_bad_image: "fail" or "skip".
    """
    if not bad:
        return
    if on_bad_image == "fail":
        raise DataFileError(bad_images_message(bad, total, where))
    logging.warning("skipping %d of %d image files in %s that cannot be read "
                    "(on_bad_image='skip'), e.g. %s: %s", len(bad), total, where, *bad[0])
