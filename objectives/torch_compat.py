"""Private names of torch the suite uses, in one place (tests/test_compat.py checks them
against the installed torch and fails naming what changed).

`torch.cpu._is_avx512_bf16_supported`: torch has no public way to ask whether this CPU computes
bfloat16 natively (AVX512-BF16 or AMX). Where that is so, bf16 autocast makes a LeNet epoch
faster with the same validation error; elsewhere bf16 would be emulated and slower.
"""

from __future__ import annotations

import warnings

import torch

# (object path, attribute, signature) of each private name used here: the contract test reads it
PRIVATE_NAMES = [("torch.cpu", "_is_avx512_bf16_supported", "() -> bool")]


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively. When the probe is gone (a torch upgrade
    renamed it), say so and answer False: fp32 is always correct, only slower."""
    probe = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    if probe is None:
        warnings.warn("torch.cpu._is_avx512_bf16_supported is missing in this torch: training "
                      "runs in fp32 on the CPU (set HPO_PRECISION=bf16 to force bf16)",
                      RuntimeWarning, stacklevel=2)
        return False
    return bool(probe())
