"""Compile every lm.kernels Triton kernel for an H100 (sm_90) on a machine without a GPU.

The interpreter accepts code the real compiler rejects (loop-carried type changes, bad dot shapes),
so this lowers each kernel through TTIR -> PTX -> cubin with Triton's bundled ptxas. Run without
TRITON_INTERPRET (test_compile_for_gpu.py runs it in a subprocess); prints one line per kernel.
"""

import sys

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from triton.runtime.autotuner import Autotuner

from lm.kernels import flash_triton, fused_rmsnorm, fused_swiglu, online_softmax, tiled_matmul

FP32_POINTERS = {"lse_ptr", "delta_ptr", "rstd_ptr", "dweight_partial_ptr"}
FP32_SCALARS = {"scale", "eps"}
FLASH = {"UPCAST": False, "D_BLOCK": 128, "Q_TILE": 64, "K_TILE": 64}
KERNELS = [
    (flash_triton._flash_fwd_kernel, {"IS_CAUSAL": True, **FLASH}),
    (flash_triton._flash_fwd_kernel, {"IS_CAUSAL": False, **FLASH}),
    (flash_triton._flash_bwd_dkdv_kernel, {"IS_CAUSAL": True, **FLASH}),
    (flash_triton._flash_bwd_dq_kernel, {"IS_CAUSAL": True, **FLASH}),
    (fused_rmsnorm._rmsnorm_fwd_kernel, {"BLOCK_D": 4096}),
    (fused_rmsnorm._rmsnorm_bwd_kernel, {"ROWS_PER_PROGRAM": 64, "BLOCK_D": 4096}),
    (online_softmax._softmax_fwd_kernel, {"BLOCK_C": 1024}),
    (online_softmax._softmax_bwd_kernel, {"BLOCK_C": 1024}),
    (fused_swiglu._swiglu_fwd_kernel, {"BLOCK": 1024}),
    (fused_swiglu._swiglu_bwd_kernel, {"BLOCK": 1024}),
    (tiled_matmul._matmul_kernel, {"ACTIVATION": "gelu", "UPCAST": False, "BLOCK_M": 128,
                                   "BLOCK_N": 128, "BLOCK_K": 64, "GROUP_M": 8}),
]  # fmt: skip


def signature(kernel: triton.JITFunction, constexprs: dict, dtype: str) -> dict[str, str]:
    """Argument name -> Triton type: pointers to `dtype` (fp32 for statistics), i32 ints."""
    sig = {}
    for name in kernel.arg_names:
        if name in constexprs:
            sig[name] = "constexpr"
        elif name.endswith("_ptr"):
            sig[name] = "*fp32" if name in FP32_POINTERS else f"*{dtype}"
        else:
            sig[name] = "fp32" if name in FP32_SCALARS else "i32"
    return sig


def aligned(sig: dict[str, str]) -> dict[tuple[int], list]:
    """Mark pointers and ints 16-divisible, as Triton specializes a launch on 16-aligned shapes."""
    return {
        (i,): [["tt.divisibility", 16]]
        for i, kind in enumerate(sig.values())
        if kind.startswith("*") or kind == "i32"
    }


def main() -> int:
    target = GPUTarget("cuda", 90, 32)
    num_failed = 0
    for kernel, constexprs in KERNELS:
        jit = kernel.fn if isinstance(kernel, Autotuner) else kernel
        for dtype in ("bf16", "fp32"):
            sig = signature(jit, constexprs, dtype)
            src = ASTSource(fn=jit, signature=sig, constexprs=constexprs, attrs=aligned(sig))
            try:
                compiled = triton.compile(src, target=target, options={"num_warps": 4})
                print(f"ok {jit.__name__} {dtype} shared={compiled.metadata.shared}")
            except Exception as e:  # report every kernel, then fail
                num_failed += 1
                print(f"FAILED {jit.__name__} {dtype}: {type(e).__name__}: {e}")
    return 1 if num_failed else 0


if __name__ == "__main__":
    sys.exit(main())
