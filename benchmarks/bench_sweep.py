"""Sweep throughput: jobs per hour with 2 workers (1 torch thread each) vs 1 worker (2 threads), same run.

    python benchmarks/bench_sweep.py [--steps 10] [--seeds 2] [--executor local|ray]

Builds the 12 x 6 test dataset, trains tiny fine-tuned and goal models (a few epochs: throughput, not
quality), then runs the same grid (ga, gd x 2 learning rates x SEEDS seeds; each job = `pebench unlearn`
+ `pebench evaluate`) three times into fresh folders: `--workers 1 --cores 2` (one job at a time, 2
threads), `--workers 1 --cores 1` (one job, 1 thread) and `--workers 2 --cores 2` (two at a time, 1
thread each). Reports wall time and jobs per hour of each and the ratios of 2 workers to each 1-worker
run (goal >= 1.7x on 2 cores), plus the load average before and after: other work on a shared machine
changes the figures (busy cores make 2-thread jobs wait on each other).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def prepare(folder):
    import data_builders
    from pebench.training import train

    data = data_builders.build(folder / "data", people=12, events=6, variants=2, image_size=64, seed=0)
    for subset, out in (("full", folder / "finetuned"), ("retain", folder / "goal")):
        train(data, "person_forget05", subset, "tiny", out, epochs=5, lr=3e-3, progress=False)
    return data


def grid(folder, steps, seeds):
    import yaml

    path = folder / "grid.yaml"
    path.write_text(yaml.safe_dump({
        "data": "data", "finetuned": "finetuned", "goal": "goal", "seeds": list(range(seeds)),
        "set": {"steps": steps, "batch_size": 4, "curve_every": 2, "probe_size": 8}, "evaluate": {"bootstrap": 100},
        "methods": {"ga": {"lr": [1e-4, 1e-3]}, "gd": {"lr": [1e-4, 1e-3]}}}))
    return path


def sweep(path, out, workers, cores, executor):
    argv = [sys.executable, "-m", "pebench", "sweep", str(path), "--out", str(out), "--workers", str(workers),
            "--cores", str(cores), "--executor", executor]
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    seconds = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"sweep failed:\n{done.stderr[-2000:]}")
    return seconds


RUNS = ((1, 2), (1, 1), (2, 2))  # (workers, cores): 1 job x 2 threads, 1 job x 1 thread, 2 jobs x 1 thread


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--executor", default="local")
    args = parser.parse_args()
    os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                      TOKENIZERS_PARALLELISM="false")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ.setdefault("HF_HOME", str(folder / "hf"))
        prepare(folder)
        path = grid(folder, args.steps, args.seeds)
        jobs = 2 * 2 * args.seeds + 2  # the grid's jobs + scoring the two reference models
        load_before = os.getloadavg()[0]
        times = {(w, c): sweep(path, folder / f"w{w}c{c}", w, c, args.executor) for w, c in RUNS}
        load_after = os.getloadavg()[0]
    rate = {run: jobs / t * 3600 for run, t in times.items()}
    print(f"{jobs} jobs ({args.executor} executor, {os.cpu_count()} CPUs here), "
          f"load average {load_before:.2f} before, {load_after:.2f} after")
    print("| workers | --cores | threads per job | wall (s) | jobs per hour |\n|---|---|---|---|---|")
    for workers, cores in RUNS:
        print(f"| {workers} | {cores} | {cores // workers} | {times[workers, cores]:.1f} | "
              f"{rate[workers, cores]:.0f} |")
    print(f"ratio 2 workers / 1 worker (2 threads): {rate[2, 2] / rate[1, 2]:.2f}x (goal >= 1.7x); "
          f"2 workers / 1 worker (1 thread): {rate[2, 2] / rate[1, 1]:.2f}x")


if __name__ == "__main__":
    main()
