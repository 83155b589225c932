"""The processes of a training run: torchrun's environment, or one process without it."""

from __future__ import annotations

import os

import torch

from pointkit.models.device import resolve_device


class Distributed:
    """torchrun environment (RANK / WORLD_SIZE / LOCAL_RANK); world 1 without torchrun.

    Picks this process's device (``cuda:LOCAL_RANK`` under torchrun on GPUs) and joins the process
    group (nccl on CUDA, gloo on the CPU)."""

    def __init__(self, device_name: str):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        device = resolve_device(device_name)
        if device.type == "cuda" and self.world > 1:
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        self.device = device
        if self.world > 1 and not torch.distributed.is_initialized():
            torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")

    @property
    def main(self) -> bool:
        """Whether this is process 0, the one that writes files."""
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()

    def sum(self, values: list[float]) -> list[float]:
        """``values`` summed over all processes (float64)."""
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        if self.world > 1:
            torch.distributed.all_reduce(t)
        return t.tolist()

    def close(self) -> None:
        if self.world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
