"""The training loop both objectives share: epochs over in-memory tensors, a checkpoint after
every epoch, and one report per epoch through Syne Tune's `Reporter`.

Batches are sliced by index from uint8 tensors and converted to float per batch, so there is no
per-sample Python pipeline. A restarted trial (paused and resumed, or interrupted) loads its
checkpoint and continues at the next epoch.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from objectives.data import Splits
from objectives.files import atomic_file
from objectives.image_classification import CHECKPOINT_FILE
from objectives.precision import PRECISION_ENV, forced_precision  # noqa: F401 (PRECISION_ENV: bench, tests)
from objectives.torch_compat import cpu_has_native_bf16

CHECKPOINT_NAME = CHECKPOINT_FILE
EVAL_BATCH_SIZE = 500  # evaluation holds no gradients; larger batches cost memory, not speed


@dataclass
class TrialSetup:
    """What the training loop needs besides the model."""

    max_epochs: int
    batch_size: int
    checkpoint_dir: str | None
    num_threads: int


def choose_device() -> torch.device:
    """The GPU given to this trial (PythonBackend sets CUDA_VISIBLE_DEVICES), else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def set_threads(num_threads: int) -> None:
    # Syne Tune sets OMP_NUM_THREADS=1 for every trial; the launcher instead hands each trial
    # its fair share of the cores, so the machine is neither idle nor oversubscribed.
    if num_threads > 0:
        torch.set_num_threads(num_threads)


def use_bf16(device: torch.device) -> bool:
    """Compute in bfloat16 (autocast) where the hardware does so natively.

    On CPUs with AVX512-BF16/AMX, and on GPUs that compute bf16 natively, a LeNet epoch is
    faster with the same validation error (experiments/bench.py measures it); elsewhere bf16
    would be emulated and slower, so fp32 is kept. `HPO_PRECISION=fp32` (or `bf16`) overrides
    the choice.
    """
    forced = forced_precision()
    if forced is not None:
        return forced == "bf16"
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return cpu_has_native_bf16()


def to_float(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) -> normalised float32, channels-last (faster convolutions)."""
    x = (images.float().div_(255.0) - mean) / std
    return x.contiguous(memory_format=torch.channels_last)


@torch.no_grad()
def evaluate(model, images, labels, mean, std, bf16: bool = False) -> tuple[float, float]:
    """(error, loss): sample-weighted over the whole split, in large batches."""
    model.eval()
    wrong, loss_sum = 0, 0.0
    for start in range(0, len(images), EVAL_BATCH_SIZE):
        x = to_float(images[start : start + EVAL_BATCH_SIZE], mean, std)
        y = labels[start : start + EVAL_BATCH_SIZE]
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(x).float()
        loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
        wrong += (logits.argmax(dim=1) != y).sum().item()
    model.train()
    return wrong / len(images), loss_sum / len(images)


def save_checkpoint(checkpoint_dir: str, epoch: int, model, optimizer) -> None:
    """Atomically: a trial killed mid-write leaves the previous checkpoint intact."""
    state = {
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "rng": torch.get_rng_state(),
    }
    with atomic_file(Path(checkpoint_dir) / CHECKPOINT_NAME, "wb") as f:
        torch.save(state, f)


def load_checkpoint(checkpoint_dir: str | None) -> dict | None:
    if not checkpoint_dir:
        return None
    path = Path(checkpoint_dir) / CHECKPOINT_NAME
    if not path.exists():
        return None
    # weights_only: a checkpoint is data, never code
    return torch.load(path, map_location="cpu", weights_only=True)


def resume_from_checkpoint(checkpoint_dir: str | None, model, optimizer) -> int:
    """The epoch to train first: 1, or the one after the checkpoint's, once the checkpoint's
    weights, optimiser state and random number generator's state are restored."""
    state = load_checkpoint(checkpoint_dir)
    if state is None:
        return 1
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"])
    return state["epoch"] + 1


def train_one_epoch(model, optimizer, images: torch.Tensor, labels: torch.Tensor, mean: torch.Tensor,
                    std: torch.Tensor, batch_size: int, bf16: bool) -> float:
    """One pass over the training split in a random order; the sample-weighted mean loss."""
    device = images.device
    n = len(images)
    model.train()
    order = torch.randperm(n, device=device)
    loss_sum = torch.zeros((), device=device)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(to_float(images[idx], mean, std))
        loss = F.cross_entropy(logits.float(), labels[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * len(idx)
    return loss_sum.item() / n


def train(
    model: torch.nn.Module,
    make_optimizer: Callable[[torch.nn.Module], torch.optim.Optimizer],
    splits: Splits,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    setup: TrialSetup,
    report: Callable[..., None],
) -> None:
    """Train for `setup.max_epochs` epochs, reporting after each one.

    Reports `epoch`, `validation_error`, `validation_loss`, `train_loss`, `epoch_time_s`
    (training and validation), `train_time_s` and `first_step_at` (wall-clock time of this
    process's first training step).
    A diverged run (non-finite loss) reports validation error 1.0 and returns.
    """
    set_threads(setup.num_threads)
    device = choose_device()
    bf16 = use_bf16(device)
    model = model.to(device, memory_format=torch.channels_last)
    optimizer = make_optimizer(model)
    first_epoch = resume_from_checkpoint(setup.checkpoint_dir, model, optimizer)

    mean_t = torch.tensor(mean, device=device).view(1, -1, 1, 1)
    std_t = torch.tensor(std, device=device).view(1, -1, 1, 1)
    train_x, train_y = splits.train_x.to(device), splits.train_y.to(device)
    val_x, val_y = splits.val_x.to(device), splits.val_y.to(device)

    # wall-clock time of this process's first training step: start-up cost = this - trial start
    first_step_at = time.time()
    for epoch in range(first_epoch, setup.max_epochs + 1):
        started = time.perf_counter()
        train_loss = train_one_epoch(model, optimizer, train_x, train_y, mean_t, std_t, setup.batch_size, bf16)
        train_time = time.perf_counter() - started
        timing = {"train_time_s": train_time, "first_step_at": first_step_at}
        if not math.isfinite(train_loss):
            report(epoch=epoch, validation_error=1.0, validation_loss=float("nan"),
                   train_loss=float("nan"), epoch_time_s=train_time, diverged=1, **timing)
            return
        validation_error, validation_loss = evaluate(model, val_x, val_y, mean_t, std_t, bf16)
        epoch_time = time.perf_counter() - started
        if device.type == "cuda":  # what this trial's tensors took on its GPU at the peak
            timing["gpu_memory_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
        if setup.checkpoint_dir:
            save_checkpoint(setup.checkpoint_dir, epoch, model, optimizer)
        report(
            epoch=epoch,
            validation_error=validation_error,
            validation_loss=validation_loss,
            train_loss=train_loss,
            epoch_time_s=epoch_time,  # training and validation
            **timing,
        )


def test_error_of_checkpoint(model, checkpoint_dir: str, splits: Splits, mean, std) -> float:
    """Error on the test split of the weights in a trial's checkpoint."""
    state = load_checkpoint(checkpoint_dir)
    if state is None:
        raise FileNotFoundError(f"no checkpoint in {checkpoint_dir}")
    model.load_state_dict(state["model"])
    model = model.to(memory_format=torch.channels_last)
    mean_t = torch.tensor(mean).view(1, -1, 1, 1)
    std_t = torch.tensor(std).view(1, -1, 1, 1)
    error, _ = evaluate(model, splits.test_x, splits.test_y, mean_t, std_t, use_bf16(torch.device("cpu")))
    return error
