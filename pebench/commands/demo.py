"""Run the whole benchmark end to end: build data, train fine-tuned and goal models, unlearn, evaluate, rank.

Every stage is an ordinary `pebench` sub-command run in this process. A stage whose output already exists
with the same key (its arguments plus the dataset fingerprint) is skipped, so an interrupted run resumes
where it stopped and a finished one re-runs in seconds.
"""
import argparse
import json
import resource
import shutil
import time
from pathlib import Path

from pebench.errors import UserError
from pebench.io import file_sha256
from pebench.schema import FORGET_CONFIGS
from pebench.stages import cached

# Sizes per preset. `quick` proves every stage works in minutes; `demo` is the README's main job;
# `full` is the PEBench-size protocol (200 people x 40 events, every target); 4 epochs are enough there
# (2,116 steps: names learnt >= 93 %, README *Known limits*), the presets' default 20 would take ~6 h on CPU.
# `pretrain`: arguments of the `pebench pretrain` stage (a base with scene knowledge that fine-tuned and
# goal models start from, as PEBench's start from LLaVA), or None to start from a random preset. Off for
# `quick` and `demo`: its vision tower learns object presence, but its language model does not yet answer
# POPE questions from it, and one demo model fine-tuned from it is no evidence that world improves (README,
# *Known limits*): 16 more minutes for nothing shown. `--pretrain` turns it on.
# Attack probes (`pebench.probes`): the cheap ones (no training) in `quick`, every one in `demo` and `full`.
PRESETS = {
    "quick": dict(people=12, events=6, model="tiny", configs=["person_forget05"], pretrain=None,
                  train_args=[], unlearn_args=[], eval_args=["--bootstrap", "200", "--probes", "cheap"]),
    "demo": dict(people=50, events=10, model="small", configs=["person_forget05"], pretrain=None,
                 train_args=["--epochs", "12"], unlearn_args=[], eval_args=["--probes", "all"]),
    "full": dict(people=200, events=40, model="small", pretrain=[],
                 configs=["person_forget05", "event_forget05", "joint_forget05"], train_args=["--epochs", "4"],
                 unlearn_args=[], eval_args=["--probes", "all"]),
}


def add_arguments(parser):
    parser.add_argument("--preset", choices=sorted(PRESETS), default="demo")
    parser.add_argument("--out", required=True, help="run folder (stages are cached inside it)")
    parser.add_argument("--model", help="a checkpoint folder to use instead of the preset's tiny model")
    parser.add_argument("--methods", help="comma-separated unlearning methods (default: every method); none: only "
                        "the reference models (what `make reproduce SEEDS=N` runs before its sweep)")
    parser.add_argument("--configs", help="comma-separated forget configs (default: the preset's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1,
                        help="processes for the methods' unlearn + evaluate jobs (torch threads split between them)")
    parser.add_argument("--pretrain", action=argparse.BooleanOptionalAction, default=None,
                        help="pretrain a base on generic scenes first (default: the preset's choice; on for full)")


def run(args):
    from pebench.cli import main as pebench
    from pebench.methods import METHODS
    from pebench.report import write_table

    preset = dict(PRESETS[args.preset])
    if args.workers < 1:
        raise UserError(f"--workers must be >= 1, got {args.workers}")
    methods = _choose(args.methods, METHODS.names(), METHODS.names(), "method", nothing="none")
    configs = _choose(args.configs, preset["configs"], list(FORGET_CONFIGS), "config")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    def stage(name, argv, output, extra=()):  # keyed by the data and the base: a new base re-runs every later stage
        return _run_stage(pebench, name, argv, output, key=[*argv, *key(), *extra])

    def key():
        return [_fingerprint(data), *_base_fingerprint(base)]

    data = out / "data"
    build = ["build", "--out", str(data), "--people", str(preset["people"]), "--events", str(preset["events"]),
             "--seed", str(args.seed)]
    _run_stage(pebench, "build data", build, data, key=_build_key(build))
    pretrain = preset["pretrain"] if args.pretrain is None else (preset["pretrain"] or []) if args.pretrain else None
    base = args.model or (str(out / "models" / "base") if pretrain is not None else preset["model"])
    if pretrain is not None and not args.model:  # a user's checkpoint is pretrained already
        argv = ["pretrain", "--data", str(data), "--model", preset["model"], "--out", base, "--seed", str(args.seed),
                *pretrain]
        _run_stage(pebench, "pretrain the base model", argv, base, key=_pretrain_key(argv, data))
    finetuned = out / "models" / "finetuned"
    stage("train fine-tuned model", ["train", "--data", str(data), "--config", configs[0], "--subset", "full",
                                     "--model", base, "--out", str(finetuned), "--seed", str(args.seed),
                                     *preset["train_args"]], finetuned)
    results = {}
    for config in configs:
        results[config] = _run_config(stage, out, data, config, base, finetuned, methods, preset, args.seed, key(),
                                      args.workers)
    board = _board(pebench, out, data, results)
    raw = write_table(out, configs)  # PEBench's raw cells per model, read back from the result files
    minutes = (time.perf_counter() - started) / 60
    peak_gib = max(resource.getrusage(who).ru_maxrss  # the pool's workers are children
                   for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 2**20
    print(f"\ndone in {minutes:.1f} min, peak memory {peak_gib:.2f} GiB\n  table: {board / 'leaderboard.md'}"
          f"\n  page:  {board / 'index.html'}\n  raw PEBench cells: {raw}")
    return 0


def _run_config(stage, out, data, config, base, finetuned, methods, preset, seed, key, workers=1):
    """Goal model, every method, and one result file per model for one forget config.

    The two reference models are scored first, in this process (their records are then cached beside them
    for every later evaluation); each method is one job, unlearn + evaluate, run here one after another or
    spread over `workers` processes (`pebench.executors`), with the same keys and the same bytes.
    """
    goal = out / "models" / config / "goal"
    stage(f"train goal model ({config})", ["train", "--data", str(data), "--config", config,
                                          "--subset", "retain", "--model", base, "--out", str(goal),
                                          "--seed", str(seed), *preset["train_args"]], goal)
    results = {name: out / "results" / config / f"{name}.json" for name in ("finetuned", "goal", *methods)}

    def evaluation(name, model):  # keyed by the cards of the three models it reads (`stages.with_inputs`)
        argv = ["evaluate", "--data", str(data), "--config", config, "--model", str(model), "--goal", str(goal),
                "--finetuned", str(finetuned), "--out", str(results[name]), "--quiet", *preset["eval_args"]]
        return (f"evaluate {name} ({config})", argv, str(results[name]), [*argv, *key],
                [str(model), str(goal), str(finetuned)])

    references = [{"name": f"{name} ({config})", "stages": [evaluation(name, model)]}
                  for name, model in (("finetuned", finetuned), ("goal", goal))]
    _run_jobs(references, 1)
    jobs = []
    for method in methods:
        model = out / "models" / config / method
        unlearn = ["unlearn", "--data", str(data), "--config", config, "--model", str(finetuned), "--method", method,
                   "--out", str(model), "--seed", str(seed), *preset["unlearn_args"]]
        jobs.append({"name": f"{method} ({config})", "stages": [
            (f"unlearn {method} ({config})", unlearn, str(model), [*unlearn, *key, _settings(method)]),
            evaluation(method, model)]})
    _run_jobs(jobs, workers)
    return results


def _run_jobs(jobs, workers):
    """Each job in this process, or over a pool of `workers` processes; a failed job stops the demo."""
    import torch

    from pebench.executors import pool
    from pebench.sweep import run_job

    if workers == 1:
        for job in jobs:
            run_job(job)
        return
    with pool("local", workers, cores=torch.get_num_threads()) as run:  # `pebench --threads N` is the budget
        failed = {name: why for name, why in run(jobs).items() if why}
    if failed:
        raise UserError("; ".join(f"{name} failed: {why}" for name, why in sorted(failed.items())) +
                        "; run the same command again to resume")


def _build_key(build):
    """The build's arguments and the generator's version: after an upgrade that changes the data, `make demo`
    rebuilds it (same bytes when nothing changed, so later stages, keyed by the fingerprint, stay)."""
    return [*build, "generator", _command("build").generator_version()]


def _pretrain_key(pretrain, data):
    """The pretrain arguments, the data and the scene corpus's version: a new corpus re-trains the base
    (and, through its fingerprint, every later stage)."""
    return [*pretrain, _fingerprint(data), "corpus", _command("pretrain").corpus_version()]


def _command(name):
    """A sub-command's module, found through the CLI: the core imports no plugin (data_builders) by name."""
    import importlib

    from pebench.cli import COMMANDS

    return importlib.import_module(COMMANDS[name])


def _run_stage(pebench, name, argv, output, key):
    """Run one CLI stage unless `output` already carries a stamp with the same key (see `_cached`)."""
    replace = Path(output).is_dir() and argv[0] in ("build", "pretrain", "train", "unlearn")
    _cached(name, output, key, lambda: pebench([*argv, "--overwrite"] if replace else argv))


def _cached(name, output, key, work):
    """See `pebench.stages.cached` (the demo's stages and the sweep's jobs share it)."""
    cached(name, output, key, work)


def _board(pebench, out, data, results):
    """Package every result as a submission and build the board: a stage keyed by the results' bytes.

    When any result changed, the submissions are packaged afresh and the board replaced atomically.
    """
    submissions, board = out / "submissions", out / "leaderboard"
    files = sorted(path for by_model in results.values() for path in by_model.values())
    key = ["leaderboard", _fingerprint(data), *[[p.relative_to(out).as_posix(), file_sha256(p)] for p in files]]

    def build():
        shutil.rmtree(submissions, ignore_errors=True)
        for by_model in results.values():
            for name, result in by_model.items():
                if pebench(["submit", str(result), "--name", f"{name} (demo)", "--out", str(submissions)]):
                    return 2
        # the board's reference models are the run's own fine-tuned and goal results
        return pebench(["leaderboard", "--submissions", str(submissions), "--data", str(data), "--out", str(board),
                        "--references", str(out / "results"), "--overwrite"])

    _cached("build the leaderboard", board, key, build)
    return board


def _fingerprint(data):
    from pebench.data import fingerprint

    return fingerprint(data)


def _settings(method):
    """The method's resolved settings (YAML and signature defaults): a changed default re-runs the method."""
    from pebench.unlearning import settings_for

    return json.loads(json.dumps(settings_for(method), sort_keys=True, default=str))


def _base_fingerprint(base):
    """[the base's fingerprint] when `base` is a pretrained pebench base, else []."""
    card = Path(base, "pebench_pretrain.json")
    return [json.loads(card.read_text())["fingerprint"]] if card.is_file() else []


def _choose(text, default, allowed, kind, nothing=None):
    """Parse a comma-separated choice, refusing names outside `allowed`; `nothing` alone chooses none."""
    if not text:
        return list(default)
    chosen = [t.strip() for t in text.split(",") if t.strip()]
    if nothing in chosen:
        if len(chosen) > 1:
            others = ", ".join(c for c in chosen if c != nothing)
            raise UserError(f"{kind} {nothing!r} stands alone; it cannot be combined with {others}")
        return []
    unknown = [c for c in chosen if c not in allowed]
    if unknown or not chosen:
        raise UserError(f"unknown {kind} {(unknown or [text])[0]!r}; choose from: {', '.join(allowed)}")
    return chosen
