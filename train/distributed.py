"""Data-parallel training with PyTorch's own distributed engine.

Run any trainer under ``torchrun`` and it trains with :class:`~torch.nn.parallel.DistributedDataParallel`:
gloo between CPU processes, nccl between GPUs::

    torchrun --nproc-per-node 2 --no-python edgeemo train --out runs/ddp

Each global batch of ``batch_size`` clips is split across the processes (so the learning-rate
schedule and the number of steps per epoch do not change with the process count); rank 0 evaluates,
writes checkpoints and plots, and the other ranks wait for it. Without torchrun's environment
(``WORLD_SIZE`` unset or 1) nothing here touches ``torch.distributed``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from edgeemo.errors import ConfigError

_TORCHRUN_VARS = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class DistContext:
    """Where this process sits in a (possibly single-process) training job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: str = "cpu"
    backend: str | None = None  # None: not distributed
    owns_group: bool = False  # this context initialised the process group (and destroys it)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (any picklable object)."""
        if not self.enabled:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def broadcast_module(self, module: Any) -> None:
        """Copy rank 0's parameters and buffers of a module DDP does not wrap into every rank."""
        if not self.enabled:
            return
        import torch.distributed as dist

        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src=0)

    def average_gradients(self, params: Any) -> None:
        """All-reduce (mean) the gradients of parameters that DDP does not manage."""
        if not self.enabled:
            return
        import torch.distributed as dist

        for p in params:
            if p.grad is not None:
                dist.all_reduce(p.grad)
                p.grad.div_(self.world_size)

    def close(self) -> None:
        if self.owns_group:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()


def is_main_process() -> bool:
    """False in the non-zero ranks of a torchrun job (reads the environment; no torch import)."""
    return int(os.environ.get("RANK", "0") or 0) == 0


def resolve_device(device: str, local_rank: int = 0) -> str:
    """``"auto"`` -> ``cuda:<local rank>`` when CUDA is available, else ``cpu``; checks explicit choices."""
    import torch

    if device == "auto":
        return f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return device
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} asked for, but this torch build sees no CUDA device; "
                              "use --set device=cpu (or auto)")
        return f"cuda:{local_rank}" if device == "cuda" else device
    raise ConfigError(f"unknown device {device!r}: use auto, cpu, cuda or cuda:N")


def context_from_env(device: str = "cpu", timeout_s: float = 600.0) -> DistContext:
    """The distributed context torchrun describes in the environment, initialising the process group.

    A single process (no ``WORLD_SIZE`` or ``WORLD_SIZE=1``) gets a plain context.
    """
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return DistContext(device=resolve_device(device))
    missing = [v for v in _TORCHRUN_VARS if v not in os.environ]
    if missing:
        raise ConfigError(f"WORLD_SIZE={world} but {', '.join(missing)} not set: start distributed training "
                          "with torchrun (e.g. torchrun --nproc-per-node 2 --no-python edgeemo train ...)")
    import torch
    import torch.distributed as dist

    rank, local_rank = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
    dev = resolve_device(device, local_rank)
    backend = "nccl" if dev.startswith("cuda") else "gloo"
    if dev.startswith("cuda"):
        torch.cuda.set_device(torch.device(dev))
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s))
    return DistContext(rank=rank, world_size=world, local_rank=local_rank, device=dev, backend=backend, owns_group=owns)
