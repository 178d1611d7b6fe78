"""How each stage's cost grows with people x events: the same pipeline at 1x, 2x and 4x the pairs.

Each size is built, loaded, trained for one epoch (`small` preset, the demo's model) and evaluated on
`person_forget05`, all in this process with the `pebench` commands; every figure is printed with its
ratio to the 1x size measured in the same run. One epoch is enough: later epochs cost the same.

Usage: python benchmarks/bench_scaling.py [--base-people 50] [--base-events 10] [--threads N]
Sizes: 1x = P x E, 2x = 2P x E, 4x = 2P x 2E (P, E = the base sizes).
"""
import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

COLUMNS = ("build_s", "disk_mib", "load_s", "train_rows", "epoch_s", "eval_rows", "evaluate_s")


def timed(argv):
    from pebench.cli import main

    start = time.perf_counter()
    if main([*argv]) != 0:
        raise SystemExit(f"pebench {argv[0]} failed")
    return time.perf_counter() - start


def measure(work, people, events):
    """Every cost of one size, in seconds (and MiB, rows)."""
    import datasets

    data, model = work / f"data{people}x{events}", work / f"model{people}x{events}"
    row = {"build_s": timed(["build", "--out", str(data), "--people", str(people), "--events", str(events)])}
    row["disk_mib"] = sum(f.stat().st_size for f in data.rglob("*") if f.is_file()) / 2**20
    datasets.load_dataset(str(data), "person_forget05")  # cold: prepares the arrow cache
    start = time.perf_counter()
    splits = datasets.load_dataset(str(data), "person_forget05")
    row["load_s"] = time.perf_counter() - start
    row["train_rows"] = datasets.load_dataset(str(data), "full", split="train").num_rows
    row["epoch_s"] = timed(["train", "--data", str(data), "--config", "person_forget05", "--subset", "full",
                            "--model", "small", "--epochs", "1", "--out", str(model), "--quiet"])
    row["eval_rows"] = sum(s.num_rows for s in splits.values())
    row["evaluate_s"] = timed(["evaluate", "--data", str(data), "--config", "person_forget05", "--model",
                               str(model), "--out", str(work / f"result{people}x{events}.json"),
                               "--bootstrap", "100"])
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-people", type=int, default=50)
    parser.add_argument("--base-events", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own choice)")
    opts = parser.parse_args()
    import torch

    if opts.threads:
        torch.set_num_threads(opts.threads)
    p, e = opts.base_people, opts.base_events
    sizes = {"1x": (p, e), "2x": (2 * p, e), "4x": (2 * p, 2 * e)}
    work = Path(tempfile.mkdtemp(prefix="pebench-scaling-"))
    os.environ["HF_DATASETS_CACHE"] = str(work / "cache")
    try:
        rows = {name: measure(work, *size) for name, size in sizes.items()}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n| size | people x events | {' | '.join(COLUMNS)} |")
    print("|---|---|" + "---|" * len(COLUMNS))
    base = rows["1x"]
    for name, (people, events) in sizes.items():
        cells = [f"{rows[name][c]:.1f} ({rows[name][c] / base[c]:.2f}x)" for c in COLUMNS]
        print(f"| {name} | {people} x {events} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
