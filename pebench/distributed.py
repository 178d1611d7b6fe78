"""One model on several processes (`torchrun`, `accelerate launch`): who writes, and what the run was.

The Trainer (through accelerate) already splits batches across ranks and averages gradients; what is
left to pebench is that exactly one process writes an output folder while the others wait, and that the
card records the world size and the effective batch. On CPU, `torchrun --nproc_per_node 2 -m pebench.cli
...` gives two ranks on gloo (`accelerate launch --cpu --num_processes 2` starts only one).
"""
import contextlib


def state():
    """accelerate's view of this process group (one process when nothing was launched).

    `cpu=True` without CUDA: otherwise accelerate sees a torchrun launch on CPU as one process.
    """
    import torch
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


def world_size():
    return state().num_processes


def is_main():
    return state().is_main_process


def wait():
    """Every rank waits here until all arrive (a no-op for one process)."""
    state().wait_for_everyone()


@contextlib.contextmanager
def main_process_first():
    """The main rank runs the block first (e.g. builds a shared base model); the others then find it."""
    with state().main_process_first():
        yield


def effective_batch(batch_size, grad_accum=1):
    """Rows per optimiser step over every rank: per-device batch x accumulation x world size."""
    return batch_size * grad_accum * world_size()


def run_info(batch_size, grad_accum=1):
    """The card's `distributed` entry."""
    return {"world_size": world_size(), "per_device_batch": batch_size, "grad_accum": grad_accum,
            "effective_batch": effective_batch(batch_size, grad_accum), "backend": state().backend}
