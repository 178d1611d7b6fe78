"""Sweeps: methods x settings x seeds x forget configs; each job is `pebench unlearn` + `pebench evaluate`.

A grid file (flat YAML, see `examples/sweep.yaml`) names the data and models and, per method, lists of
values for any `--set` key. Every combination of values is a *setting*; every (config, method, setting,
seed) is a *job*. A job is two ordinary `pebench` command lines, each cached like the demo's stages
(`pebench.stages`): a re-run skips finished ones, an interrupted sweep resumes, and a local process, a Ray
task and a Slurm array element (`pebench sweep GRID --out DIR --job N`) run exactly the same thing.

Per method the setting is chosen by `pebench.selection.choose` from the unlearning cards' validation
numbers only (never a test split); its seeds are then reported as mean +- std (`pebench.sweep_report`).
"""
import itertools
import os
import re
import shutil
import sys
from pathlib import Path

from pebench.errors import UserError
from pebench.schema import FORGET_CONFIGS

GRID_KEYS = ("run", "data", "finetuned", "goal", "configs", "seeds", "methods", "set", "select", "evaluate")
EVALUATE_KEYS = ("bootstrap", "batch_size", "max_new_tokens", "judge", "probes")


# ----------------------------------------------------------------------------------------- the grid
def load_grid(path, seeds=None):
    """Read and check a grid file; every mistake is one `UserError` before anything is written.

    Paths are relative to the grid file's folder. `seeds` (an int N, or None) replaces the file's seeds
    by 0..N-1 (`make reproduce SEEDS=3`).
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise UserError(f"grid file {path} does not exist")
    try:
        grid = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise UserError(f"grid file {path} is not valid YAML: {str(err).splitlines()[0]}") from None
    if not isinstance(grid, dict):
        raise UserError(f"grid file {path}: expected key: value pairs ({', '.join(GRID_KEYS)})")
    unknown = sorted(set(grid) - set(GRID_KEYS))
    if unknown:
        raise UserError(f"grid file {path}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(GRID_KEYS)}")
    base = path.resolve().parent
    grid = {**grid, **_paths(grid, base, path)}
    grid["configs"] = _list(grid.get("configs") or ["person_forget05"], "configs", path)
    for config in grid["configs"]:
        if config not in FORGET_CONFIGS:
            raise UserError(f"grid file {path}: unknown config {config!r}; choose from: {', '.join(FORGET_CONFIGS)}")
    if seeds is not None and seeds < 1:
        raise UserError(f"--seeds must be >= 1, got {seeds}")
    grid["seeds"] = list(range(seeds)) if seeds else _list(grid.get("seeds", [0]), "seeds", path)
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in grid["seeds"]):
        raise UserError(f"grid file {path}: seeds must be integers, got {grid['seeds']}")
    grid["set"] = _mapping(grid.get("set") or {}, "set", path)
    grid["evaluate"] = _mapping(grid.get("evaluate") or {}, "evaluate", path)
    bad = sorted(set(grid["evaluate"]) - set(EVALUATE_KEYS))
    if bad:
        raise UserError(f"grid file {path}: unknown evaluate key(s) {', '.join(bad)}; "
                        f"valid: {', '.join(EVALUATE_KEYS)}")
    if grid.get("select") is not None:
        from pebench.selection import check_rule

        check_rule(grid["select"])
    grid["methods"] = _methods(grid.get("methods"), grid, path)
    return grid


def _paths(grid, base, path):
    """data, finetuned and goal (a path that may hold `{config}`), absolute; `run` gives demo-style defaults."""
    run = grid.get("run")
    defaults = {} if run is None else {"data": f"{run}/data", "finetuned": f"{run}/models/finetuned",
                                       "goal": f"{run}/models/{{config}}/goal"}
    found = {}
    for key in ("data", "finetuned", "goal"):
        value = grid.get(key, defaults.get(key))
        if not isinstance(value, str) or not value:
            raise UserError(f"grid file {path}: {key} is missing (give {key}: PATH, or run: DEMO_RUN_FOLDER)")
        found[key] = str((base / value).resolve()) if not Path(value).is_absolute() else value
    for config in _list(grid.get("configs") or ["person_forget05"], "configs", path):
        for key in ("data", "finetuned", "goal"):
            where = found[key].replace("{config}", str(config))
            if not Path(where).is_dir():
                raise UserError(f"grid file {path}: {key} folder {where} does not exist")
    return found


def _methods(methods, grid, path):
    """{method: [setting dict, ...]}: the product of each method's value lists, each checked by `settings_for`."""
    from pebench.methods import METHODS
    from pebench.unlearning import settings_for

    if methods == "all":  # every registered method at its defaults (`make reproduce SEEDS=N`)
        methods = {name: {} for name in METHODS.names()}
    if not isinstance(methods, dict) or not methods:
        raise UserError(f"grid file {path}: the grid is empty (give methods: {{METHOD: {{KEY: [VALUES]}}}}); "
                        f"methods: {', '.join(METHODS.names())}")
    expanded = {}
    for method, values in methods.items():
        if method not in METHODS.names():
            raise UserError(f"grid file {path}: unknown method {method!r}; choose from: {', '.join(METHODS.names())}")
        values = _mapping(values or {}, f"methods.{method}", path)
        keys = sorted(values)
        lists = [_list(values[k], f"methods.{method}.{k}", path) for k in keys]
        settings = [dict(zip(keys, combo)) for combo in itertools.product(*lists)]
        for setting in settings:
            settings_for(method, overrides={**grid["set"], **_select(grid), **setting})  # unknown keys, bad types
        expanded[method] = settings
    return expanded


def _select(grid):
    return {"select": grid["select"]} if grid.get("select") is not None else {}


def _list(value, what, path):
    value = value if isinstance(value, list) else [value]
    if not value:
        raise UserError(f"grid file {path}: {what} is an empty list (the grid would be empty)")
    return value


def _mapping(value, what, path):
    if not isinstance(value, dict):
        raise UserError(f"grid file {path}: {what} must be key: value pairs, got {value!r}")
    return value


# ----------------------------------------------------------------------------------------- the jobs
def setting_id(setting):
    """A readable, file-safe id of a setting: `lr1e-4_steps4` (a hash where that would be too long)."""
    import hashlib
    import json

    text = "_".join(f"{k}{_fmt(v)}" for k, v in sorted(setting.items())) or "default"
    text = re.sub(r"[^A-Za-z0-9.=+_-]", "_", text)
    if len(text) > 60:
        text = hashlib.sha256(json.dumps(setting, sort_keys=True).encode()).hexdigest()[:12]
    return text


def _fmt(value):
    return f"{value:g}" if isinstance(value, float) else str(value)


def reference_jobs(grid, out):
    """Scoring the goal and fine-tuned models once per config: every job's evaluation reads these results."""
    from pebench.data import fingerprint

    jobs = []
    for config in grid["configs"]:
        for side in ("finetuned", "goal"):
            model = grid[side].replace("{config}", config)
            result = Path(out, "references", config, f"{side}.json")
            argv = ["evaluate", "--data", grid["data"], "--config", config, "--model", model, "--out", str(result),
                    "--quiet", *_evaluate_flags(grid)]
            jobs.append({"name": f"{side}-{config}", "stages": [
                (f"evaluate {side} ({config})", argv, str(result), [*argv, fingerprint(grid["data"])])]})
    return jobs


def grid_jobs(grid, out):
    """Every (config, method, setting, seed) job, in a fixed order."""
    from pebench.data import fingerprint

    data, print_ = grid["data"], fingerprint(grid["data"])
    jobs = []
    for config, (method, settings), seed in itertools.product(grid["configs"], grid["methods"].items(), grid["seeds"]):
        refs = Path(out, "references", config)
        goal = grid["goal"].replace("{config}", config)
        for setting in settings:
            name = f"{method}-{setting_id(setting)}-seed{seed}"
            model, result = Path(out, "models", config, name), Path(out, "results", config, f"{name}.json")
            sets = [f"--set={k}={_fmt(v)}" for k, v in {**grid["set"], **_select(grid), **setting}.items()]
            goal_flag = ["--goal", goal]  # the goal's forget_val NLL is what `selection.choose` compares to
            unlearn = ["unlearn", "--data", data, "--config", config, "--model", grid["finetuned"], "--method", method,
                       "--out", str(model), "--seed", str(seed), *sets, *goal_flag]
            evaluate = ["evaluate", "--data", data, "--config", config, "--model", str(model), "--goal",
                        str(refs / "goal.json"), "--finetuned", str(refs / "finetuned.json"), "--out", str(result),
                        "--quiet", *_evaluate_flags(grid)]
            jobs.append({"name": name, "config": config, "method": method, "setting": setting, "seed": seed,
                         "model": str(model), "result": str(result), "stages": [
                             (f"unlearn {name} ({config})", unlearn, str(model), [*unlearn, print_]),
                             (f"evaluate {name} ({config})", evaluate, str(result), [*evaluate, print_])]})
    return sorted(jobs, key=lambda j: (j["seed"], j["config"], j["method"], j["name"]))


def _evaluate_flags(grid):
    return [f"--{k.replace('_', '-')}={v}" for k, v in sorted(grid["evaluate"].items())]


def unfinished(jobs):
    """The jobs with a stage still to run; a finished one is reported and skipped without a worker."""
    from pebench.stages import is_done, with_inputs

    todo = []
    for job in jobs:
        if all(is_done(output, with_inputs(key, *inputs)) for _, _, output, key, *inputs in job["stages"]):
            print(f"[skip] {job['name']}: up to date", file=sys.stderr)
        else:
            todo.append(job)
    return todo


def run_job(job, threads=None):
    """Run one job's stages (in whatever process the executor chose); returns the job's name.

    A stage is (name, argv, output, key) or (name, argv, output, key, input models): the key is then
    completed with the input models' cards when the stage runs (`stages.with_inputs`).
    Each stage writes to a temporary path and renames (`pebench.io`), then stamps its key, so a worker
    killed at any point leaves either nothing or a finished output, never a half-written one.
    """
    from pebench.cli import main
    from pebench.stages import cached, with_inputs

    print(f"[job]  {job['name']} pid {os.getpid()}", file=sys.stderr, flush=True)
    remove_job_temporaries(job)  # a run of this job killed before left them; only one run of a job at a time
    prefix = ["--threads", str(threads)] if threads else []
    for name, argv, output, key, *inputs in job["stages"]:
        replace = argv[0] == "unlearn" and Path(output).is_dir()
        cached(name, output, with_inputs(key, *inputs),
               lambda: main([*prefix, *argv, *(["--overwrite"] if replace else [])]))
    return job["name"]


def remove_job_temporaries(job):
    """A job's own temporaries beside its outputs (`.NAME.tmp-*` folders, `.NAME.*` files), not its stamps."""
    from pebench.stages import STAMP

    for _, _, output, *_ in job["stages"]:
        output = Path(output)
        for stale in output.parent.glob(f".{output.name}.*"):
            if not stale.name.endswith(STAMP):
                shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)


def remove_stale_temporaries(out):
    """Temporary folders and files a killed worker left behind: every hidden entry that is not a stamp.

    Call it only while no other sweep writes into `out`.
    """
    from pebench.stages import STAMP

    for folder in (Path(out, "models"), Path(out, "results"), Path(out, "references")):
        for stale in folder.glob("*/.*"):
            if not stale.name.endswith(STAMP):
                shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)
