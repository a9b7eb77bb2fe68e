"""Kernel-test setup: run Triton's interpreter on CPU-only machines.

TRITON_INTERPRET is read when a kernel is decorated, so it is set here, before any test module
imports lm.kernels. With CUDA present the kernels compile for the GPU instead.
"""

import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
