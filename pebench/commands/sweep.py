"""Sweep methods x settings x seeds x forget configs; choose each method's setting on validation numbers.

Example: pebench sweep examples/sweep.yaml --out runs/sweep --workers 2
         pebench sweep grid.yaml --out runs/sweep --executor ray --address auto
         pebench sweep grid.yaml --out runs/sweep --job 7     (one job, e.g. a Slurm array element)
Each job is `pebench unlearn` + `pebench evaluate`, cached: a re-run skips finished jobs and an interrupted
sweep resumes. Writes OUT/sweep.csv, sweep.svg, summary.md/json, submissions/ (one per chosen method,
all its seeds) and leaderboard/.
"""
import sys
from pathlib import Path

from pebench.errors import UserError


def add_arguments(parser):
    parser.add_argument("grid", help="grid file (YAML; see examples/sweep.yaml)")
    parser.add_argument("--out", required=True, help="sweep folder (jobs are cached inside it)")
    parser.add_argument("--executor", default="local", help="local (a process pool, default) or ray")
    parser.add_argument("--workers", type=int, default=1, help="jobs at a time (local; ray: CPUs of a local instance)")
    parser.add_argument("--address", default=None,
                        help="ray: 'local' (default: a private instance here), 'auto' or HOST:PORT of a cluster")
    parser.add_argument("--cores", type=int, help="cores shared by the jobs (default: all); torch threads per job "
                        "= cores // workers")
    parser.add_argument("--retries", type=int, default=2, help="re-runs of a job whose worker died (default 2)")
    parser.add_argument("--seeds", type=int, help="use seeds 0..N-1 instead of the grid file's")
    parser.add_argument("--job", type=int, metavar="N", help="run only job N (0-based, in --list order) here")
    parser.add_argument("--list", action="store_true", help="print the jobs (index, name) and exit")


def run(args):
    from pebench import executors, sweep

    limits = (("--workers", args.workers, 1), ("--cores", args.cores, 1), ("--retries", args.retries, 0))
    for flag, value, least in limits:
        if value is not None and value < least:
            raise UserError(f"{flag} must be >= {least}, got {value}")
    grid = sweep.load_grid(args.grid, args.seeds)
    out = Path(args.out).resolve()
    references, jobs = sweep.reference_jobs(grid, out), sweep.grid_jobs(grid, out)
    if args.list:
        for index, job in enumerate(references + jobs):
            print(f"{index}\t{job['name']}")
        return 0
    if args.job is not None:
        if not 0 <= args.job < len(references + jobs):
            raise UserError(f"--job must be in 0..{len(references + jobs) - 1}, got {args.job}")
        sweep.run_job((references + jobs)[args.job], executors.threads_per_job(1, args.cores))
        return 0
    if args.executor == "ray":
        executors.connect(args.address, args.workers, executors.threads_per_job(args.workers, args.cores))
    elif args.executor != "local":
        raise UserError(f"unknown executor {args.executor!r}; choose from: {', '.join(executors.EXECUTORS)}")
    out.mkdir(parents=True, exist_ok=True)
    sweep.remove_stale_temporaries(out)
    with executors.pool(args.executor, args.workers, args.address, args.retries, args.cores) as run:
        failed = {n: e for n, e in run(sweep.unfinished(references)).items() if e}
        if failed:
            raise UserError(f"scoring the reference models failed: {next(iter(failed.values()))}")
        outcome = run(sweep.unfinished(jobs))
    return report(grid, out, jobs, outcome)


def report(grid, out, jobs, outcome):
    """Choose, summarize, write the reports, package one submission per chosen method, build the board."""
    from pebench import sweep_report

    rows = sweep_report.load_rows(jobs, outcome)
    chosen = sweep_report.choose(rows)
    summary = sweep_report.summarize(rows, chosen)
    sweep_report.write_reports(out, rows, chosen, summary)
    board = _board(grid, out, summary)
    failed = {n: e for n, e in outcome.items() if e}
    print(f"{len(jobs) - len(failed)} of {len(jobs)} jobs done; chosen settings: "
          + ", ".join(f"{s['method']} {s['setting_id']} ({s['config']}, {_count(len(s['seeds']), 'seed')})"
                      for s in summary)
          + f"\n  grid: {out / 'sweep.csv'}\n  plot: {out / 'sweep.svg'}\n  summary: {out / 'summary.md'}"
          + f"\n  board: {board / 'leaderboard.md'}")
    for name, error in sorted(failed.items()):
        print(f"pebench sweep: job {name} failed: {error}", file=sys.stderr)
    return 1 if failed else 0


def _board(grid, out, summary):
    """One submission per chosen (config, method) carrying every seed's result; the board verifies each."""
    import shutil

    from pebench.cli import main as pebench
    from pebench.io import file_sha256
    from pebench.stages import cached

    submissions, board = out / "submissions", out / "leaderboard"
    files = sorted(p for s in summary for p in s["results"])
    key = ["sweep board", *[[Path(p).name, file_sha256(p)] for p in files],
           *[[s["method"], s["setting_id"]] for s in summary]]

    def build():
        shutil.rmtree(submissions, ignore_errors=True)
        for s in summary:
            first, *others = s["results"]
            argv = ["submit", first, "--name", f"{s['method']} ({_count(len(s['seeds']), 'seed')})",
                    "--out", str(submissions), *[f"--seed-result={p}" for p in others],
                    *[f"--setting={k}={v}" for k, v in sorted(s["setting"].items())]]
            if pebench(argv):
                return 2
        return pebench(["leaderboard", "--submissions", str(submissions), "--data", grid["data"], "--out",
                        str(board), "--references", str(out / "references"), "--overwrite"])

    cached("build the sweep's leaderboard", board, key, build)
    return board


def _count(n, word):
    return f"{n} {word}" + ("" if n == 1 else "s")
