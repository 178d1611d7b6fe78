"""Training step time: the `transformers.Trainer` path of `pebench train` vs a bare PyTorch loop.

Both run the same model (a fresh `small` or `tiny` preset) on the same encoded batch in one process:
forward, pebench's loss (`answer_mean_loss` on the answer positions' logits), backward, gradient clipping
(max norm 1.0, the Trainer default) and an AdamW step. The Trainer is pebench's own (`resumable_trainer`)
and gets the batch through a collator that returns the pre-encoded batch, so the ratio is the Trainer's
own overhead; the adapter's `encode` (prompt building, tokenising, image processing) is timed
separately. A third loop computes the logits of every position (what a stock `model(**batch).loss`
does) to show what `logits_to_keep` saves. All run twice, alternating, after a warm-up; medians are
reported. Target: Trainer/bare <= 1.10.

Usage: python benchmarks/bench_train_step.py [--preset small] [--batch-size 32] [--steps 15] [--threads N]
(`--threads 1` on a machine shared with other jobs: two OpenMP threads that wait on each other can make a
step tens of times slower, for both paths alike.)
"""
import argparse
import copy
import dataclasses
import resource
import statistics
import tempfile
import time

import numpy as np
import torch
from PIL import Image
from transformers import TrainerCallback

from pebench import tiny
from pebench.adapter import VLM
from pebench.training import DEFAULTS, answer_loss, resumable_trainer, training_arguments


def synthetic_rows(n, size=64, seed=0):
    """Rows shaped like the dataset: noise images, a name question or a scene description."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        image = Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
        if i % 2:
            rows.append(dict(image=image, question="Who is the person in this image?",
                             answer=f"This is Person{i} Surname{i % 7}."))
        else:
            rows.append(dict(image=image, question="Describe the scene in detail.",
                             answer="A person jogs along a shaded path in a green park early in the morning, "
                                    "passing benches and a small pond."))
    return rows


class StepClock(TrainerCallback):
    def __init__(self):
        self.ends = []

    def on_step_end(self, args, state, control, **kwargs):
        self.ends.append(time.perf_counter())


def pebench_loss(model, batch):
    return answer_loss(model, batch)[0]


def all_logits_loss(model, batch):
    return answer_loss(model, batch, keep_answer_logits=False)[0]


def bare_steps(model, batch, steps, lr, loss=pebench_loss):
    # the Trainer's default optimizer for torch >= 2.8 ("adamw_torch_fused"): same update, same kernels
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0, fused=True)
    model.train()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        loss(model, batch).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
    return times


def trainer_steps(model, batch, steps, lr, batch_size):
    clock = StepClock()
    with tempfile.TemporaryDirectory() as work:
        settings = {**DEFAULTS["small"], "lr": lr, "batch_size": batch_size}
        args = dataclasses.replace(training_arguments(work, settings, seed=0, progress=False), max_steps=steps,
                                   save_strategy="no", logging_strategy="no", warmup_steps=0,
                                   train_sampling_strategy="sequential")  # one fixed batch: nothing to group
        data = [{"i": i} for i in range(steps * batch_size)]
        trainer = resumable_trainer(model=model, args=args, train_dataset=data,
                                    data_collator=lambda _: copy.copy(batch), callbacks=[clock])
        trainer.train()
    return list(np.diff(clock.ends))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small", choices=sorted(tiny.PRESETS))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own choice)")
    opts = parser.parse_args()
    if opts.threads:
        torch.set_num_threads(opts.threads)
    rows = synthetic_rows(opts.batch_size)
    model, processor = tiny.build([r["question"] for r in rows] + [r["answer"] for r in rows], opts.preset)
    vlm = VLM(model, processor)
    start = time.perf_counter()
    batch = vlm.encode(rows)
    encode_s = time.perf_counter() - start
    lr, warm = 1e-4, 3
    bare_steps(copy.deepcopy(vlm.model), batch, warm, lr)  # first-use costs (allocator, kernels) of the process
    bare, trained, full = [], [], []
    for _ in range(2):  # alternate, so drift from other load on the machine hits every side
        bare += bare_steps(copy.deepcopy(vlm.model), batch, opts.steps + warm, lr)[warm:]
        trained += trainer_steps(copy.deepcopy(vlm.model), batch, opts.steps + warm, lr, opts.batch_size)[warm - 1:]
        full += bare_steps(copy.deepcopy(vlm.model), batch, opts.steps + warm, lr, all_logits_loss)[warm:]
    bare_s, trainer_s, full_s = statistics.median(bare), statistics.median(trained), statistics.median(full)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    print(f"preset {opts.preset}: {tiny.count_parameters(vlm.model) / 1e6:.2f} M params, batch {opts.batch_size}, "
          f"{batch['input_ids'].shape[1]} tokens, torch threads {torch.get_num_threads()}")
    print(f"bare loop     {bare_s * 1000:7.1f} ms/step  {opts.batch_size / bare_s:6.1f} samples/s")
    print(f"Trainer       {trainer_s * 1000:7.1f} ms/step  {opts.batch_size / trainer_s:6.1f} samples/s")
    print(f"all logits    {full_s * 1000:7.1f} ms/step  {opts.batch_size / full_s:6.1f} samples/s")
    print(f"ratio Trainer/bare {trainer_s / bare_s:.3f} (target <= 1.10)")
    print(f"ratio all-logits/answer-logits {full_s / bare_s:.2f} (the saving of logits_to_keep)")
    print(f"encode (collator) {encode_s * 1000:.1f} ms/batch; peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
