"""`pebench demo --workers 2` vs one worker: the methods' phase of the quick demo, same run, same machine.

    python benchmarks/bench_demo_workers.py [--methods all]

Runs the quick demo once with GA only (data, fine-tuned and goal models, their evaluations), copies that
run folder twice, deletes GA's outputs in each copy, then times `pebench demo --preset quick --methods M`
in the copies: `--threads 2 --workers 1` (one job at a time, 2 threads) and `--threads 2 --workers 2` (two
at a time, 1 thread each); only the method jobs (unlearn + evaluate each) and the board run. Prints both
wall times, the ratio, whether the result files are the same bytes (expected only with equal threads per
job, so not here), and the load average before and after.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def demo(cwd, methods, threads, workers):
    argv = [sys.executable, "-m", "pebench", "--threads", str(threads), "demo", "--preset", "quick", "--methods",
            methods, "--out", "run", "--workers", str(workers)]
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"demo failed in {cwd}: {done.stderr[-1500:]}")
    return time.perf_counter() - start, done.stderr


def main():
    from pebench.methods import METHODS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="all", help="comma-separated methods, or all")
    args = parser.parse_args()
    methods = ",".join(METHODS.names()) if args.methods == "all" else args.methods
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp, "prepared")
        prepared.mkdir()
        demo(prepared, "ga", 2, 1)
        runs = {}
        for workers in (1, 2):
            copy = Path(tmp, f"w{workers}")
            shutil.copytree(prepared, copy)
            shutil.rmtree(copy / "run" / "models" / "person_forget05" / "ga")
            (copy / "run" / "results" / "person_forget05" / "ga.json").unlink()
            seconds, log = demo(copy, methods, 2, workers)
            runs[workers] = (seconds, log.count("[run]  unlearn"))
        same = all(Path(tmp, "w1", "run", "results", "person_forget05", f"{m}.json").read_bytes() ==
                   Path(tmp, "w2", "run", "results", "person_forget05", f"{m}.json").read_bytes()
                   for m in methods.split(","))
    (one, jobs1), (two, jobs2) = runs[1], runs[2]
    print(f"methods phase of the quick demo, {jobs1} method jobs: 1 worker x 2 threads {one:.1f} s, "
          f"2 workers x 1 thread {two:.1f} s ({jobs2} jobs): {one / two:.2f}x; results same bytes: {same}; "
          f"load {load:.2f} before, {os.getloadavg()[0]:.2f} after")


if __name__ == "__main__":
    main()
