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


def rank():
    return state().process_index


def shard(rows_by_split):
    """This rank's share of every split for evaluation: rows rank, rank + W, rank + 2W, ... (all in one process)."""
    count, index = world_size(), rank()
    return {split: rows[index::count] for split, rows in rows_by_split.items()}


def gather_records(records, rows_by_split):
    """Every rank's per-sample records, in the one-process order (split by split, rows in order)."""
    if world_size() == 1:
        return records
    import torch.distributed as dist

    parts = [None] * world_size()
    dist.all_gather_object(parts, records)
    by_key = {(record["split"], record["id"]): record for part in parts for record in part}
    return [by_key[(split, row["id"])] for split, rows in rows_by_split.items() for row in rows]
