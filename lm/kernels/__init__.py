"""lm.kernels: Triton kernels, each beside a plain-PyTorch reference with the same signature.

Set TRITON_INTERPRET=1 before importing this package to run the Triton kernels on CPU tensors.
The dispatchers (`flash_attention`, `rmsnorm`, ...) pick Triton on CUDA and PyTorch elsewhere.
"""

from lm.kernels.dispatch import flash_attention, matmul, rmsnorm, softmax, swiglu
from lm.kernels.flash_pytorch import FlashAttentionPytorch, attention_reference
from lm.kernels.flash_triton import FlashAttentionTriton
from lm.kernels.fused_rmsnorm import rmsnorm_reference, rmsnorm_triton
from lm.kernels.fused_swiglu import swiglu_reference, swiglu_triton
from lm.kernels.launch import IS_INTERPRETING
from lm.kernels.online_softmax import softmax_reference, softmax_triton
from lm.kernels.tiled_matmul import matmul_reference, matmul_triton

__all__ = [
    "IS_INTERPRETING",
    "FlashAttentionPytorch",
    "FlashAttentionTriton",
    "attention_reference",
    "flash_attention",
    "matmul",
    "matmul_reference",
    "matmul_triton",
    "rmsnorm",
    "rmsnorm_reference",
    "rmsnorm_triton",
    "softmax",
    "softmax_reference",
    "softmax_triton",
    "swiglu",
    "swiglu_reference",
    "swiglu_triton",
]
