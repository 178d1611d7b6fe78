"""Where a sweep's jobs run: `local` (a process pool on this machine) or `ray` (one or many machines).

Both run `pebench.sweep.run_job(job, threads)`: the job's ordinary `pebench` command lines, each cached.
Torch threads per job = the cores given to the sweep // workers, so jobs do not fight over cores.
A worker that dies (killed, out of memory, a lost node) loses nothing: its job's outputs are written to a
temporary path and renamed, and the job is run again (up to `retries` times). A job that *fails* (exit
code 2: bad settings, a diverged run) is not retried; it is reported and left out of the selection.
"""
import contextlib
import os
import socket
import sys

from pebench.errors import UserError

EXECUTORS = ("local", "ray")


def threads_per_job(workers, cores=None):
    return max(1, (cores or os.cpu_count() or 1) // workers)


@contextlib.contextmanager
def pool(executor="local", workers=1, address=None, retries=2, cores=None):
    """Workers kept for several batches of jobs: `with pool(...) as run: run(first); run(second)`; each
    `run(jobs)` returns {job name: None (done) or the reason it failed}.

    A sweep runs its reference scoring, then its grid (which reads those scores): one pool serves both,
    so each worker starts and imports torch once per sweep, not once per batch.
    """
    if executor not in EXECUTORS:
        raise UserError(f"unknown executor {executor!r}; choose from: {', '.join(EXECUTORS)}")
    if workers < 1:
        raise UserError(f"--workers must be >= 1, got {workers}")
    threads = threads_per_job(workers, cores)
    if executor == "ray":
        if not _import_ray().is_initialized():
            connect(address, workers, threads)
        try:
            yield lambda jobs: _ray(jobs, threads, retries) if jobs else {}
        finally:
            disconnect()
        return
    local = _LocalPool(workers, threads, retries)
    try:
        yield local.run
    finally:
        local.close()


# -------------------------------------------------------------------------------------------- local
class _LocalPool:
    """`workers` fresh processes (spawned, not forked: no torch state is shared), started on first use.

    A killed worker breaks the whole pool (`BrokenProcessPool`): every unfinished job is put back and a
    new pool started; a job is given up only after it was running in `retries + 1` broken pools.
    """

    def __init__(self, workers, threads, retries):
        self.workers, self.threads, self.retries, self.executor = workers, threads, retries, None

    def run(self, jobs):
        from concurrent.futures import as_completed
        from concurrent.futures.process import BrokenProcessPool

        from pebench.sweep import run_job

        outcome, tries, pending = {}, {}, list(jobs)
        while pending:
            broken = []
            futures = {self._executor().submit(run_job, job, self.threads): job for job in pending}
            for future in as_completed(futures):
                job = futures[future]
                try:
                    future.result()
                    outcome[job["name"]] = None
                except BrokenProcessPool:
                    broken.append(job)
                except Exception as err:  # a stage failed inside the worker: reported, not retried
                    outcome[job["name"]] = f"{type(err).__name__}: {err}"
            if broken:
                self.close()
            pending = []
            for job in broken:
                tries[job["name"]] = tries.get(job["name"], 0) + 1
                if tries[job["name"]] > self.retries:
                    outcome[job["name"]] = f"its worker died {tries[job['name']]} times"
                else:
                    print(f"[retry] {job['name']}: a worker died", file=sys.stderr, flush=True)
                    pending.append(job)
        return outcome

    def _executor(self):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        if self.executor is None:
            self.executor = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                                initializer=_warm_up)
        return self.executor

    def close(self):
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None


def _warm_up():
    """Import what every job needs as the worker starts, while the parent is still preparing jobs."""
    import pebench.cli  # noqa: F401
    import pebench.evaluation  # noqa: F401
    import pebench.unlearning  # noqa: F401


# ---------------------------------------------------------------------------------------------- ray
def _ray(jobs, threads, retries):
    """Ray tasks, `threads` CPUs each (`connect` started or joined the instance).

    Ray itself re-runs a task whose worker process or node died (`max_retries`).
    """
    ray = _import_ray()
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
