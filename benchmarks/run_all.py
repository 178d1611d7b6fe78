"""Run every benchmark in this folder, one process each, and print their reports in order.

Usage: python benchmarks/run_all.py [name ...]   (e.g. `bench_build`; default: all)
Each benchmark measures its own baseline in the same run and prints the ratio against it.
"""
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main(names):
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        scripts = [s for s in scripts if s.stem in names]
    failed = []
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        if subprocess.run([sys.executable, str(script)]).returncode:
            failed.append(script.stem)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
