"""CelebA's aligned faces from the official files in a manual dir (`CelebAAligned`).

The manual route exists because tfds' own `celeb_a` downloads through Google Drive,
which often refuses (quota).
"""

import collections
import os
import zipfile

import numpy as np
import tensorflow_datasets as tfds

from gan_tf.data import images as image_files
from gan_tf.data.errors import DatasetUnavailableError
from gan_tf.data.errors import DataFileError

CELEB_A_CROP = 140  # central square of the 178x218 aligned faces, as in DCGAN ports
CELEB_A_SHAPE = (218, 178, 3)
CELEB_A_ATTRIBUTES = (  # the header of list_attr_celeba.txt (already sorted)
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald",
    "Bangs", "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair",
    "Bushy_Eyebrows", "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair",
    "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Mustache",
    "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose",
    "Receding_Hairline", "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair",
    "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick",
    "Wearing_Necklace", "Wearing_Necktie", "Young")
MANUAL_DOWNLOAD_INSTRUCTIONS = (
    "Download the aligned CelebA images (img_align_celeba.zip, 1.4 GB) and, for the "
    "standard splits and the 40 attributes, list_eval_partition.txt and "
    "list_attr_celeba.txt from the official page "
    "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html (Google Drive / Baidu links, "
    "folders 'Img' and 'Anno'; the zip may stay zipped or be unpacked to "
    "img_align_celeba/), put them in one folder and pass it as manual_dir "
    "(CLI: --manual_dir=DIR).")
_SPLIT_CODES = {"0": "train", "1": "validation", "2": "test"}


def celeb_a_files(manual_dir):
    """Finds the official aligned CelebA files in `manual_dir`.

    Returns:
        dict with "images" (the `img_align_celeba` folder or zip), "partition" and
        "attributes" (paths or None when absent).

    Raises:
        DatasetUnavailableError: neither the folder nor the zip is there.
    """
    def existing(name):
        path = os.path.join(manual_dir, name)
        return path if os.path.exists(path) else None

    images = existing("img_align_celeba") or existing("img_align_celeba.zip")
    if images is None:
        raise DatasetUnavailableError(
            f"manual_dir {manual_dir!r} holds neither img_align_celeba/ nor "
            f"img_align_celeba.zip. {MANUAL_DOWNLOAD_INSTRUCTIONS}")
    return {"images": images, "partition": existing("list_eval_partition.txt"),
            "attributes": existing("list_attr_celeba.txt")}


class _ImageSource:
    """The JPEGs of a folder or of a zip file, by base name."""

    def __init__(self, path):
        self.path = path
        if os.path.isdir(path):
            self.zip = None
            self.members = {n: os.path.join(path, n) for n in os.listdir(path)
                            if n.lower().endswith((".jpg", ".jpeg"))}
            return
        try:
            self.zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as error:
            raise DataFileError(f"{path} is not a readable zip file ({error}): download "
                                f"it again, or unpack it to img_align_celeba/") from None
        self.members = {os.path.basename(n): n for n in self.zip.namelist()
                        if n.lower().endswith((".jpg", ".jpeg"))}

    def read(self, name):
        if self.zip is None:
            with open(self.members[name], "rb") as f:
                return f.read()
        return self.zip.read(self.members[name])


def _read_lines(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DataFileError(f"{path} cannot be read ({error}); download it again") from None


def _read_attributes(path):
    """{image name: int8 (40,) in {0, 1}, sorted by attribute name} of list_attr_celeba.txt."""
    lines = _read_lines(path)
    header = tuple(lines[1].split()) if len(lines) > 1 else ()
    if tuple(sorted(header)) != CELEB_A_ATTRIBUTES:
        raise DataFileError(f"{path} is not CelebA's attribute list: its second line "
                            f"should name the 40 attributes, it reads {lines[1:2]!r}")
    order = np.argsort(header)  # file order -> sorted order
    attributes = {}
    for number, line in enumerate(lines[2:], start=3):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 41 or any(v not in ("1", "-1") for v in fields[1:]):
            raise DataFileError(f"{path} line {number} is not an image name and 40 "
                                f"values of 1 or -1 ({line[:60]!r}); download it again")
        values = np.array([int(v) for v in fields[1:]])
        attributes[fields[0]] = (values[order] == 1).astype(np.int8)
    return attributes


def _read_partition(path):
    """{split: [image names]} of list_eval_partition.txt (0 train, 1 validation, 2 test)."""
    names = collections.defaultdict(list)
    for number, line in enumerate(_read_lines(path), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in _SPLIT_CODES:
            raise DataFileError(f"{path} line {number} is not an image name and a split "
                                f"0, 1 or 2 ({line[:60]!r}); download it again")
        names[_SPLIT_CODES[fields[1]]].append(fields[0])
    return dict(names)


def _split_names(files, source):
    """{split: [image names]}: the partition file's, or every image in "train"."""
    if not files["partition"]:
        return {"train": sorted(source.members)}
    names = _read_partition(files["partition"])
    listed = [n for split in names.values() for n in split]
    absent = [n for n in listed if n not in source.members]
    if absent:
        raise DatasetUnavailableError(
            f"{files['partition']} lists {len(listed)} images, {len(absent)} of them are "
            f"not in {files['images']} (e.g. {absent[0]}); use the complete "
            f"img_align_celeba, or remove list_eval_partition.txt to put every image "
            f"present in 'train'")
    return names


class CelebAAligned(tfds.core.GeneratorBasedBuilder):
    """CelebA's aligned faces (178x218 JPEGs) from the official files in a manual dir.

    Splits from `list_eval_partition.txt` (0 train, 1 validation, 2 test) when present,
    else every image in "train". Attributes: int8 (40,) in {0, 1}, the 40 binary
    attributes in sorted order (as `load` stacks those of tfds' `celeb_a`), when
    `list_attr_celeba.txt` is present; `info.metadata["has_attributes"]` says whether.
    The JPEG bytes are stored as they are (no re-encoding); preparing checks every
    image (`images.inspect_image`; `on_bad_image` says whether a bad one fails or is
    skipped).
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Aligned CelebA from img_align_celeba/ or its zip."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_DOWNLOAD_INSTRUCTIONS

    def __init__(self, *, on_bad_image="fail", **kwargs):
        image_files.check_on_bad_image(on_bad_image)
        self._on_bad_image = on_bad_image
        self._bad, self._total, self._where = [], 0, ""
        super().__init__(**kwargs)

    def _info(self):
        return self.dataset_info_from_configs(
            description="CelebA aligned faces read from the official files.",
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=CELEB_A_SHAPE, encoding_format="jpeg"),
                "attributes": tfds.features.Tensor(shape=(len(CELEB_A_ATTRIBUTES),),
                                                   dtype=np.int8),
                "image/filename": tfds.features.Text(),
            }),
            homepage="https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html",
            metadata=tfds.core.MetadataDict(),
        )

    def _split_generators(self, dl_manager):
        files = celeb_a_files(os.fspath(dl_manager.manual_dir))
        source = _ImageSource(files["images"])
        if not source.members:
            raise DatasetUnavailableError(f"{files['images']} holds no .jpg images; "
                                          f"{MANUAL_DOWNLOAD_INSTRUCTIONS}")
        attributes = (_read_attributes(files["attributes"])
                      if files["attributes"] else None)
        self.info.metadata["has_attributes"] = attributes is not None
        names = _split_names(files, source)
        missing = attributes is not None and [n for n in source.members if n not in attributes]
        if missing:
            raise DataFileError(f"{files['attributes']} has no line for {len(missing)} "
                                f"images (e.g. {missing[0]}); use the official "
                                f"list_attr_celeba.txt")
        self._bad, self._total, self._where = [], len(source.members), files["images"]
        return {split: self._generate_examples(source, split_names, attributes)
                for split, split_names in names.items()}

    def _generate_examples(self, source, names, attributes):
        for name in names:
            try:
                encoded = source.read(name)
                shape = image_files.inspect_image(encoded)
            except (DataFileError, OSError, zipfile.BadZipFile) as error:
                self._bad.append((name, str(error)))
                if self._on_bad_image == "fail":
                    image_files.report_bad_images(self._bad, self._total, self._where,
                                                  "fail")
                continue
            if shape != CELEB_A_SHAPE:
                raise DataFileError(
                    f"{name} in {source.path} is {shape[0]}x{shape[1]}x{shape[2]}, not "
                    f"the aligned faces' 218x178x3: use img_align_celeba, not the "
                    f"in-the-wild images")
            yield name, {
                "image": encoded,
                "attributes": (attributes[name] if attributes is not None
                               else np.zeros(len(CELEB_A_ATTRIBUTES), np.int8)),
                "image/filename": name}

    def _download_and_prepare(self, dl_manager, download_config=None):
        super()._download_and_prepare(dl_manager, download_config=download_config)
        image_files.report_bad_images(self._bad, self._total, self._where,
                                      self._on_bad_image)
