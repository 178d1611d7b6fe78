"""Where a sweep's jobs run: `local` (a process pool on this machine) or `ray` (one or many machines).

Both run `pebench.sweep.run_job(job, threads)`: the job's ordinary `pebench` command lines, each cached.
Torch threads per job = the cores given to the sweep // workers, so jobs do not fight over cores.
A worker that dies (killed, out of memory, a lost node) loses nothing: its job's outputs are written to a
temporary path and renamed, and the job is run again (up to `retries` times). A job that *fails* (exit
code 2: bad settings, a diverged run) is not retried; it is reported and left out of the selection.
"""
import os
import socket
import sys

from pebench.errors import UserError

EXECUTORS = ("local", "ray")


def threads_per_job(workers, cores=None):
    return max(1, (cores or os.cpu_count() or 1) // workers)


def run_jobs(jobs, executor="local", workers=1, address=None, retries=2, cores=None):
    """Run every job; returns {job name: None (done) or the reason it failed}."""
    if executor not in EXECUTORS:
        raise UserError(f"unknown executor {executor!r}; choose from: {', '.join(EXECUTORS)}")
    if workers < 1:
        raise UserError(f"--workers must be >= 1, got {workers}")
    if not jobs:
        return {}
    threads = threads_per_job(workers, cores)
    run = _local if executor == "local" else _ray
    return run(jobs, workers, threads, retries, address)


# -------------------------------------------------------------------------------------------- local
def _local(jobs, workers, threads, retries, address=None):
    """A pool of `workers` fresh processes (spawned, not forked: no torch state is shared).

    A killed worker breaks the whole pool (`BrokenProcessPool`): every unfinished job is put back and a
    new pool started; a job is given up only after it was running in `retries + 1` broken pools.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    from pebench.sweep import run_job

    outcome, tries, pending = {}, {}, list(jobs)
    context = multiprocessing.get_context("spawn")
    while pending:
        broken = []
        with ProcessPoolExecutor(min(workers, len(pending)), mp_context=context) as pool:
            futures = {pool.submit(run_job, job, threads): job for job in pending}
            for future in as_completed(futures):
                job = futures[future]
                try:
                    future.result()
                    outcome[job["name"]] = None
                except BrokenProcessPool:
                    broken.append(job)
                except Exception as err:  # a stage failed inside the worker: reported, not retried
                    outcome[job["name"]] = f"{type(err).__name__}: {err}"
        pending = []
        for job in broken:
            tries[job["name"]] = tries.get(job["name"], 0) + 1
            if tries[job["name"]] > retries:
                outcome[job["name"]] = f"its worker died {tries[job['name']]} times"
            else:
                print(f"[retry] {job['name']}: a worker died", file=sys.stderr, flush=True)
                pending.append(job)
    return outcome


# ---------------------------------------------------------------------------------------------- ray
def _ray(jobs, workers, threads, retries, address):
    """Ray tasks, one CPU each. `address`: "local" starts a private instance with `workers` CPUs here;
    "auto" or HOST:PORT joins a running cluster (where pebench and the data paths must exist on every node).

    Ray itself re-runs a task whose worker process or node died (`max_retries`).
    """
    ray = _import_ray()
    if not ray.is_initialized():
        connect(address, workers, threads)
    task = ray.remote(num_cpus=threads, max_retries=retries, retry_exceptions=False)(_ray_job)
    refs = {task.remote(job, threads): job for job in jobs}
    outcome, waiting = {}, list(refs)
    while waiting:
        done, waiting = ray.wait(waiting, num_returns=1)
        job = refs[done[0]]
        try:
            ray.get(done[0])
            outcome[job["name"]] = None
        except ray.exceptions.WorkerCrashedError:
            outcome[job["name"]] = f"its worker died {retries + 1} times"
        except ray.exceptions.RayTaskError as err:
            outcome[job["name"]] = str(getattr(err, "cause", None) or err).splitlines()[0]
    return outcome


def disconnect():
    """End this process's Ray session (a private instance stops with it)."""
    ray = _import_ray()
    if ray.is_initialized():
        ray.shutdown()


def _ray_job(job, threads):
    from pebench.sweep import run_job

    return run_job(job, threads)


def _import_ray():
    try:
        import ray
    except ImportError:
        raise UserError("--executor ray needs Ray: pip install 'pebench[ray]'") from None
    return ray


def connect(address, workers, threads=1):
    """Start or join Ray; an unreachable address is one line (checked first: ray.init would wait minutes).

    `pebench sweep` calls this before it writes anything, so a bad address leaves no folder behind.
    """
    ray = _import_ray()
    address = address or "local"
    env = {"env_vars": {k: os.environ[k] for k in ("PYTHONPATH", "HF_HOME", "HF_DATASETS_CACHE", "HF_HUB_OFFLINE",
                                                  "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE") if k in os.environ}}
    if address == "local":
        ray.init(num_cpus=workers * threads, include_dashboard=False, runtime_env=env, log_to_driver=True,
                 configure_logging=False)
        return
    if address != "auto":
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise UserError(f"--address must be local, auto or HOST:PORT, got {address!r}")
        try:
            socket.create_connection((host, int(port)), timeout=5).close()
        except OSError as err:
            raise UserError(f"Ray is not reachable at {address}: {err.strerror or err}") from None
    try:
        ray.init(address=address, runtime_env=env, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as err:
        raise UserError(f"Ray is not reachable at {address}: {str(err).splitlines()[0]}") from None
