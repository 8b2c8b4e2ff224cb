"""Finding, validating, decoding and caching the data sets (real files, real formats)."""

from __future__ import annotations

import gzip
import pickle
import shutil

import numpy as np
import pytest

from objectives import data
from objectives.data import DataNotFoundError, prepare_cifar10, prepare_fashion_mnist
from tests.conftest import CIFAR10_ARCHIVE

DEBIAN = data.FASHION_MNIST_DEBIAN_DIR
needs_debian_fashion_mnist = pytest.mark.skipif(
    not (DEBIAN / "train-images-idx3-ubyte.gz").exists(),
    reason="Debian package dataset-fashion-mnist not installed (make setup installs it)",
)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Each test decodes into its own cache and data root; no environment leaks in."""
    monkeypatch.setenv("HPO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HPO_DATA_ROOT", str(tmp_path / "root"))
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    monkeypatch.delenv("CIFAR10_DIR", raising=False)


def write_idx(path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def small_fashion_mnist(folder, n=50) -> None:
    """A small, valid copy of FashionMNIST in the uncompressed IDX format."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for key, stem in data.FASHION_MNIST_FILES.items():
        is_images = key.endswith("_x")
        values = rng.integers(0, 256, size=(n, 28, 28)) if is_images else rng.integers(0, 10, size=n)
        write_idx(folder / stem, values)


@needs_debian_fashion_mnist
def test_real_fashion_mnist_loads_and_splits():
    from objectives.fashion_mnist_lenet import CLASSIFIER

    cache = prepare_fashion_mnist()
    splits = CLASSIFIER.load_splits(str(cache))
    assert tuple(splits.train_x.shape) == (50_000, 1, 28, 28)
    assert tuple(splits.val_x.shape) == (10_000, 1, 28, 28)
    assert tuple(splits.test_x.shape) == (10_000, 1, 28, 28)
    assert str(splits.train_x.dtype) == "torch.uint8"
    assert set(splits.val_y.unique().tolist()) == set(range(10))
    # the held-out validation part is fixed: the same images every time
    again = CLASSIFIER.load_splits(str(cache))
    assert (again.val_x[:100] == splits.val_x[:100]).all()


def test_data_dir_with_torchvision_layout(tmp_path):
    small_fashion_mnist(tmp_path / "d" / "FashionMNIST" / "raw")
    cache = prepare_fashion_mnist(str(tmp_path / "d"), download=False)
    with np.load(cache) as arrays:
        assert arrays["train_x"].shape == (50, 1, 28, 28)


def test_environment_variable_is_used_before_debian(tmp_path, monkeypatch):
    small_fashion_mnist(tmp_path / "env")
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path / "env"))
    with np.load(prepare_fashion_mnist(download=False)) as arrays:
        assert len(arrays["train_x"]) == 50


def test_data_dir_without_the_files_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFoundError, match="does not hold FashionMNIST"):
        prepare_fashion_mnist(str(tmp_path / "empty"))


def test_nothing_found_names_every_option(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "FASHION_MNIST_DEBIAN_DIR", tmp_path / "no-debian")
    with pytest.raises(DataNotFoundError) as info:
        prepare_fashion_mnist(download=False)
    message = str(info.value)
    for option in ("--data-dir", "$FASHION_MNIST_DIR", "dataset-fashion-mnist", "--smoke"):
        assert option in message


@needs_debian_fashion_mnist
def test_truncated_file_is_reported(tmp_path):
    folder = tmp_path / "truncated"
    folder.mkdir()
    for path in DEBIAN.glob("*.gz"):
        shutil.copy(path, folder / path.name)
    images = folder / "train-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[: images.stat().st_size // 2])
    with pytest.raises(DataNotFoundError, match="truncated or corrupt"):
        prepare_fashion_mnist(str(folder))
    assert not list((tmp_path / "cache").glob("*.npz")), "nothing may be cached from a broken file"


def test_idx_with_wrong_length_is_reported(tmp_path):
    small_fashion_mnist(tmp_path / "d")
    labels = tmp_path / "d" / "train-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:-5])
    with pytest.raises(DataNotFoundError, match="truncated or corrupt"):
        prepare_fashion_mnist(str(tmp_path / "d"))


def test_cache_is_reused(tmp_path):
    small_fashion_mnist(tmp_path / "d")
    first = prepare_fashion_mnist(str(tmp_path / "d"))
    stamp = first.stat().st_mtime_ns
    assert prepare_fashion_mnist(str(tmp_path / "d")) == first
    assert first.stat().st_mtime_ns == stamp


def test_cifar10_imagefolder_and_batches_layouts(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    root = tmp_path / "imagefolder" / "cifar10-jpeg"  # one folder down, as the archive unpacks
    for part in ("train", "test"):
        for name in data.CIFAR10_CLASSES:
            (root / part / name).mkdir(parents=True)
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(root / part / name / "0.jpg")
    with np.load(prepare_cifar10(str(tmp_path / "imagefolder"), download=False)) as arrays:
        assert arrays["train_x"].shape == (10, 3, 32, 32)
        assert sorted(arrays["test_y"].tolist()) == list(range(10))

    batches = tmp_path / "tv" / "cifar-10-batches-py"
    batches.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), "labels": [0, 1, 2, 3]}
        (batches / name).write_bytes(pickle.dumps(batch))
    with np.load(prepare_cifar10(str(tmp_path / "tv"), download=False)) as arrays:
        assert arrays["train_x"].shape == (20, 3, 32, 32)


def test_cifar10_missing_is_an_error(tmp_path):
    with pytest.raises(DataNotFoundError, match="CIFAR-10 not found"):
        prepare_cifar10(download=False)
    (tmp_path / "nothing").mkdir()
    with pytest.raises(DataNotFoundError, match="does not hold CIFAR-10"):
        prepare_cifar10(str(tmp_path / "nothing"))


@pytest.mark.skipif(not CIFAR10_ARCHIVE.exists(), reason="no CIFAR-10 archive beside the checkout")
def test_real_cifar10_archive(monkeypatch):
    # The real archive is decoded once into the user's cache (about 20 s), then reused.
    monkeypatch.delenv("HPO_CACHE_DIR")
    from objectives.cifar10_cnn import CLASSIFIER

    splits = CLASSIFIER.load_splits(str(prepare_cifar10(str(CIFAR10_ARCHIVE))))
    assert len(splits.train_x) == 40_000 and len(splits.val_x) == 10_000 and len(splits.test_x) == 10_000
    means = (splits.train_x.float() / 255).mean(dim=(0, 2, 3))
    assert means.tolist() == pytest.approx([0.4913, 0.4821, 0.4465], abs=0.01)


def test_corrupt_archive_is_reported(tmp_path):
    archive = tmp_path / "broken.tar.gz"
    archive.write_bytes(gzip.compress(b"not a tar file at all" * 100)[:200])
    with pytest.raises(DataNotFoundError, match="truncated or corrupt"):
        prepare_cifar10(str(archive))
