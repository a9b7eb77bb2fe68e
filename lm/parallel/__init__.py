"""lm.parallel: parallelism applied from outside an unmodified lm.model, on torch.distributed.

A ladder, one idea per file: collectives (what moves, what it costs) -> ddp (replicate the model,
average gradients: naive, then bucketed and overlapped) -> sharded_optimizer (ZeRO-1: shard the
optimizer state) -> fsdp (ZeRO-3: shard everything, gather just in time) -> tensor_parallel (split
every matmul) -> pipeline (split the layers, GPipe micro-batches). launch runs N local ranks;
train runs pretraining under torchrun; memory and measurements count bytes and time steps.
"""

from lm.parallel.ddp import DDP, NaiveDDP
from lm.parallel.fsdp import FSDP
from lm.parallel.sharded_optimizer import ShardedOptimizer

__all__ = ["DDP", "FSDP", "NaiveDDP", "ShardedOptimizer"]
