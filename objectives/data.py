"""Find, decode and cache the data sets; hand them to trials as in-memory uint8 tensors.

A trial never touches the raw files: the launcher calls `prepare(...)` once, which finds the
data set, decodes it and writes one uncompressed `.npz` cache file. Trials get the cache path
and load it in milliseconds (`load_splits`). Images stay uint8 until a batch is sliced out;
the objective converts each batch to float.

Where the data are looked for, in order:

FashionMNIST
  1. `--data-dir DIR` (a folder with the four `*-ubyte[.gz]` files, or torchvision's
     `DIR/FashionMNIST/raw/` layout); a given folder must hold the data, there is no fallback;
  2. the folder named by `$FASHION_MNIST_DIR` (same rules);
  3. Debian's package `dataset-fashion-mnist` (`/usr/share/datasets/fashion-mnist`);
  4. torchvision's layout under the data root (`$HPO_DATA_ROOT`, default
     `~/.cache/hpo-suite/data`);
  5. torchvision's download into the data root.

CIFAR-10
  1. `--data-dir`, 2. `$CIFAR10_DIR`: torchvision's `cifar-10-batches-py` layout, an
     ImageFolder layout (`train/<class>/*.jpg`, `test/<class>/*.jpg`, possibly one folder
     down), or a `.tar.gz` archive of that ImageFolder layout;
  3. torchvision's layout under the data root; 4. torchvision's download.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import os
import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from objectives.files import atomic_file
from objectives.usage import UsageError

if TYPE_CHECKING:  # torch is imported where tensors are made, not by every user of this module
    import torch

FASHION_MNIST_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_FILES = {
    "train_x": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)

# The validation set is a fixed, held-out part of the training split; the test split is only
# used to evaluate the best configuration after tuning.
VALIDATION_SPLIT_SEED = 0
SMOKE = "smoke"  # data_file value that selects synthetic data


class DataNotFoundError(UsageError):
    """The data set is missing or unreadable; the message says where it was looked for."""


def data_root() -> Path:
    return Path(os.environ.get("HPO_DATA_ROOT", "~/.cache/hpo-suite/data")).expanduser()


def cache_dir() -> Path:
    return Path(os.environ.get("HPO_CACHE_DIR", "~/.cache/hpo-suite/cache")).expanduser()


# ---------------------------------------------------------------------------------------------
# The splits a trial sees
# ---------------------------------------------------------------------------------------------


@dataclass
class Splits:
    """uint8 images (N, C, H, W) and int64 labels, as torch tensors."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor


@functools.lru_cache(maxsize=2)
def load_splits(data_file: str, validation_fraction: float, smoke_shape=None) -> Splits:
    """Load a cache file written by `prepare` (or synthetic data when `data_file == "smoke"`)
    and split the training part into train and validation with a fixed seed.

    Memoised: a warm worker process loads each data set once, and the trials forked from it
    share that memory. The tensors are never written to."""
    import torch

    if data_file == SMOKE:
        arrays = synthetic_arrays(*smoke_shape)
    else:
        with np.load(data_file) as npz:
            arrays = {key: npz[key] for key in ("train_x", "train_y", "test_x", "test_y")}
    train_x = torch.from_numpy(arrays["train_x"])
    train_y = torch.from_numpy(arrays["train_y"].astype(np.int64))
    n_val = int(round(len(train_x) * validation_fraction))
    order = torch.randperm(
        len(train_x), generator=torch.Generator().manual_seed(VALIDATION_SPLIT_SEED)
    )
    val_idx, train_idx = order[:n_val], order[n_val:]
    return Splits(
        train_x=train_x[train_idx],
        train_y=train_y[train_idx],
        val_x=train_x[val_idx],
        val_y=train_y[val_idx],
        test_x=torch.from_numpy(arrays["test_x"]),
        test_y=torch.from_numpy(arrays["test_y"].astype(np.int64)),
    )


def synthetic_arrays(channels: int, size: int, n_train: int = 2048, n_test: int = 512) -> dict:
    """Random images shaped like the real set (as torchvision's FakeData), with structure to
    learn: each class is a fixed coarse random pattern plus pixel noise."""
    rng = np.random.default_rng(1234)
    # Coarse 4x4 patterns scaled up: pooling layers keep them apart (pixel noise would average out)
    coarse = rng.uniform(0, 255, size=(10, channels, 4, 4))
    prototypes = coarse.repeat(size // 4, axis=2).repeat(size // 4, axis=3)

    def draw(n):
        labels = rng.integers(0, 10, size=n)
        noise = rng.normal(0, 60, size=(n, channels, size, size))
        images = np.clip(prototypes[labels] + noise, 0, 255).astype(np.uint8)
        return images, labels.astype(np.uint8)

    train_x, train_y = draw(n_train)
    test_x, test_y = draw(n_test)
    return {"train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y}


# ---------------------------------------------------------------------------------------------
# Cache
# ---------------------------------------------------------------------------------------------


def _cache_file(dataset: str, source: Path) -> Path:
    stat = source.stat()
    key = f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    return cache_dir() / f"{dataset}-{digest}.npz"


def _write_cache(path: Path, arrays: dict) -> None:
    """Atomically, so a concurrent reader never sees half a file."""
    with atomic_file(path, "wb") as f:
        np.savez(f, **arrays)


def _cached(dataset: str, source: Path, decode) -> Path:
    path = _cache_file(dataset, source)
    if not path.exists():
        arrays = decode()
        _check_arrays(dataset, source, arrays)
        _write_cache(path, arrays)
    return path


def _check_arrays(dataset: str, source: Path, arrays: dict) -> None:
    for part in ("train", "test"):
        x, y = arrays[f"{part}_x"], arrays[f"{part}_y"]
        if len(x) == 0 or len(x) != len(y):
            raise DataNotFoundError(
                f"{dataset} at {source} is incomplete: {part} split has {len(x)} images and "
                f"{len(y)} labels. Replace the files with a complete copy."
            )


# ---------------------------------------------------------------------------------------------
# FashionMNIST
# ---------------------------------------------------------------------------------------------


def _read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DataNotFoundError(
            f"cannot read {path} ({e}): the file is truncated or corrupt. "
            "Replace it with a complete copy."
        ) from e
    if len(raw) < 8 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataNotFoundError(f"{path} is not an IDX file of unsigned bytes: replace it.")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4).astype(int)
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims))
    if len(raw) - offset != expected:
        raise DataNotFoundError(
            f"{path} holds {len(raw) - offset} bytes of data where its header promises "
            f"{expected}: the file is truncated or corrupt. Replace it with a complete copy."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims)


def _fashion_mnist_files(folder: Path) -> dict[str, Path] | None:
    """The four IDX files in `folder` or its torchvision layout, or None."""
    for base in (folder, folder / "FashionMNIST" / "raw"):
        found = {}
        for key, stem in FASHION_MNIST_FILES.items():
            for name in (stem + ".gz", stem):
                if (base / name).is_file():
                    found[key] = base / name
                    break
        if len(found) == 4:
            return found
    return None


def _decode_fashion_mnist(files: dict[str, Path]) -> dict:
    arrays = {key: _read_idx(path) for key, path in files.items()}
    for part in ("train_x", "test_x"):
        arrays[part] = arrays[part][:, None, :, :]  # (N, 1, 28, 28)
    return arrays


def _download_fashion_mnist(root: Path) -> dict[str, Path] | None:
    try:
        import torchvision

        torchvision.datasets.FashionMNIST(str(root), train=True, download=True)
        torchvision.datasets.FashionMNIST(str(root), train=False, download=True)
    except Exception:  # no network, or the mirror failed: the caller reports it
        return None
    return _fashion_mnist_files(root)


def prepare_fashion_mnist(data_dir: str | None = None, download: bool = True) -> Path:
    """Find FashionMNIST, decode it once, and return the path of the cache file."""
    explicit = [("--data-dir", data_dir), ("$FASHION_MNIST_DIR", os.environ.get("FASHION_MNIST_DIR"))]
    for origin, folder in explicit:
        if folder:
            files = _fashion_mnist_files(Path(folder))
            if files is None:
                raise DataNotFoundError(
                    f"{origin} {folder} does not hold FashionMNIST: expected the files "
                    f"{', '.join(FASHION_MNIST_FILES.values())} (optionally .gz) in it or in "
                    f"its FashionMNIST/raw/ folder. Point {origin} at such a folder."
                )
            return _cached("fashion_mnist", files["train_x"], lambda: _decode_fashion_mnist(files))
    for folder in (FASHION_MNIST_DEBIAN_DIR, data_root()):
        files = _fashion_mnist_files(folder)
        if files is not None:
            return _cached("fashion_mnist", files["train_x"], lambda: _decode_fashion_mnist(files))
    files = _download_fashion_mnist(data_root()) if download else None
    if files is not None:
        return _cached("fashion_mnist", files["train_x"], lambda: _decode_fashion_mnist(files))
    raise DataNotFoundError(
        "FashionMNIST not found. Looked for, in order: --data-dir, $FASHION_MNIST_DIR, "
        f"{FASHION_MNIST_DEBIAN_DIR} (Debian package dataset-fashion-mnist), "
        f"{data_root()}/FashionMNIST/raw (torchvision layout; $HPO_DATA_ROOT), and "
        "torchvision's download (failed: no network?). Fix: `apt-get install "
        "dataset-fashion-mnist`, or pass --data-dir DIR holding the four *-ubyte.gz files, "
        "or run with --smoke for synthetic data."
    )


# ---------------------------------------------------------------------------------------------
# CIFAR-10
# ---------------------------------------------------------------------------------------------


def _decode_jpeg(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8).transpose(2, 0, 1)


def _stack(images: list, labels: list) -> tuple[np.ndarray, np.ndarray]:
    if not images:
        return np.zeros((0, 3, 32, 32), np.uint8), np.zeros(0, np.uint8)
    return np.stack(images), np.asarray(labels, dtype=np.uint8)


def _imagefolder_root(folder: Path) -> Path | None:
    """`folder` or its single subfolder, if it holds train/<class>/ and test/<class>/."""
    candidates = [folder] + [p for p in sorted(folder.iterdir()) if p.is_dir()] if folder.is_dir() else []
    for root in candidates:
        if all((root / part / CIFAR10_CLASSES[0]).is_dir() for part in ("train", "test")):
            return root
    return None


def _decode_imagefolder(root: Path) -> dict:
    arrays = {}
    for part in ("train", "test"):
        images, labels = [], []
        for label, name in enumerate(CIFAR10_CLASSES):
            for path in sorted((root / part / name).iterdir()):
                try:
                    images.append(_decode_jpeg(path.read_bytes()))
                except Exception as e:
                    raise DataNotFoundError(
                        f"cannot decode {path} ({e}): the file is corrupt. Replace the data set."
                    ) from e
                labels.append(label)
        arrays[f"{part}_x"], arrays[f"{part}_y"] = _stack(images, labels)
    return arrays


def _decode_imagefolder_tar(archive: Path) -> dict:
    """Decode straight from a .tar.gz of the ImageFolder layout, without unpacking to disk."""
    parts = {"train": ([], []), "test": ([], [])}
    class_index = {name: i for i, name in enumerate(CIFAR10_CLASSES)}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                if not member.isfile() or not member.name.lower().endswith((".jpg", ".jpeg", ".png")):
                    continue
                pieces = Path(member.name).parts
                if len(pieces) < 3 or pieces[-3] not in parts or pieces[-2] not in class_index:
                    continue
                images, labels = parts[pieces[-3]]
                images.append(_decode_jpeg(tar.extractfile(member).read()))
                labels.append(class_index[pieces[-2]])
    except (tarfile.TarError, OSError, EOFError) as e:
        raise DataNotFoundError(
            f"cannot read {archive} ({e}): the archive is truncated or corrupt. Replace it."
        ) from e
    arrays = {}
    for part, (images, labels) in parts.items():
        arrays[f"{part}_x"], arrays[f"{part}_y"] = _stack(images, labels)
    return arrays


def _cifar_batches_root(folder: Path) -> Path | None:
    for root in (folder, folder / "cifar-10-batches-py"):
        if (root / "data_batch_1").is_file() and (root / "test_batch").is_file():
            return root
    return None


def _decode_cifar_batches(root: Path) -> dict:
    def read(name):
        try:
            with open(root / name, "rb") as f:
                batch = pickle.load(f, encoding="latin1")  # torchvision's own format
        except Exception as e:
            raise DataNotFoundError(f"cannot read {root / name} ({e}): replace the file.") from e
        return batch["data"].reshape(-1, 3, 32, 32), np.asarray(batch["labels"], np.uint8)

    train = [read(f"data_batch_{i}") for i in range(1, 6)]
    test_x, test_y = read("test_batch")
    return {
        "train_x": np.concatenate([x for x, _ in train]),
        "train_y": np.concatenate([y for _, y in train]),
        "test_x": test_x,
        "test_y": test_y,
    }


def _find_cifar10(folder: Path):
    """(source, decode) for a CIFAR-10 copy at `folder`, or None."""
    if folder.is_file() and folder.name.endswith((".tar.gz", ".tgz", ".tar")):
        return folder, lambda: _decode_imagefolder_tar(folder)
    if not folder.is_dir():
        return None
    batches = _cifar_batches_root(folder)
    if batches is not None:
        return batches / "data_batch_1", lambda: _decode_cifar_batches(batches)
    images = _imagefolder_root(folder)
    if images is not None:
        return images / "train", lambda: _decode_imagefolder(images)
    return None


def prepare_cifar10(data_dir: str | None = None, download: bool = True) -> Path:
    """Find CIFAR-10, decode it once, and return the path of the cache file."""
    explicit = [("--data-dir", data_dir), ("$CIFAR10_DIR", os.environ.get("CIFAR10_DIR"))]
    for origin, folder in explicit:
        if folder:
            found = _find_cifar10(Path(folder))
            if found is None:
                raise DataNotFoundError(
                    f"{origin} {folder} does not hold CIFAR-10: expected torchvision's "
                    "cifar-10-batches-py folder, an ImageFolder layout (train/<class>/*.jpg, "
                    "test/<class>/*.jpg) or a .tar.gz of it. Point "
                    f"{origin} at such a copy."
                )
            return _cached("cifar10", *found)
    found = _find_cifar10(data_root())
    if found is None and download:
        try:
            import torchvision

            torchvision.datasets.CIFAR10(str(data_root()), train=True, download=True)
            found = _find_cifar10(data_root())
        except Exception:  # no network: reported below
            found = None
    if found is not None:
        return _cached("cifar10", *found)
    raise DataNotFoundError(
        "CIFAR-10 not found. Looked for, in order: --data-dir, $CIFAR10_DIR, "
        f"{data_root()}/cifar-10-batches-py (torchvision layout; $HPO_DATA_ROOT), and "
        "torchvision's download (failed: no network?). Fix: pass --data-dir (or set "
        "$CIFAR10_DIR) to a CIFAR-10 copy: torchvision's cifar-10-batches-py, an ImageFolder "
        "layout train/<class>/*.jpg + test/<class>/*.jpg, or a .tar.gz of it; or run with "
        "--smoke for synthetic data."
    )
