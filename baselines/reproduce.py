"""Reproduce PEBench Table 1 (and Table 2 for the joint target) with every baseline.

    python -m baselines.reproduce --data DIR --out OUT [--configs person_forget05 ...] [--methods ga gd ...]
        [--finetuned DIR] [--preset tiny] [--probes all] [--set key=value ...]

For each forget config: train (or reuse) the fine-tuned model and the config's goal model, unlearn with
every method, evaluate every model with `pebench.evaluation.evaluate` and its attack probes (relearning,
quantization, prompts, ...: `pebench.probes`), and write OUT/results/<config>/<method>.json (leaderboard
entries, probe records inside) and OUT/table.md. Every number in the table is read back from those result files; times come from the cards.
"""
import json
import sys
import time
from pathlib import Path

TARGET_CONFIGS = ("person_forget05", "event_forget05", "joint_forget05")
# Table 2 of PEBench: BGD on top of GD and of KL for the joint target ("bgd" is GD+BGD).
VARIANTS = {"bgd_kl": ("bgd", {"retain_term": "kl"})}


def main(argv=None):
    from pebench.errors import UserError

    args = _parser().parse_args(argv)
    try:
        run(args)
    except UserError as err:
        print(f"reproduce: error: {err}", file=sys.stderr)
        return 2
    return 0


def _parser():
    from pebench.cli import OneLineParser

    p = OneLineParser(prog="python -m baselines.reproduce", description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="dataset folder (pebench build)")
    p.add_argument("--out", required=True, help="output folder (models, results, table.md)")
    p.add_argument("--configs", nargs="+", default=list(TARGET_CONFIGS))
    p.add_argument("--methods", nargs="+", default=None, help="default: every registered method")
    p.add_argument("--finetuned", help="fine-tuned model folder (default: train one into OUT/models)")
    p.add_argument("--preset", default="tiny", help="model preset when training from scratch")
    p.add_argument("--probes", default="all", help="attack probes: all, cheap, none or a comma list (default all)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every method")
    p.add_argument("--seed", type=int, default=0)
    return p


def run(args):
    from pebench.commands.unlearn import parse_sets
    from pebench.methods import METHODS
    from pebench.report import write_table

    out = Path(args.out)
    methods = args.methods or METHODS.names()
    overrides = parse_sets(args.set)
    finetuned = Path(args.finetuned) if args.finetuned else _trained(args, "full", args.configs[0], "finetuned")
    for config in args.configs:
        goal = _trained(args, "retain", config, f"goal_{config}")
        refs = {"finetuned": finetuned, "goal": goal}
        for name, model in refs.items():
            _evaluate(args, config, model, out / "results" / config / f"{name}.json", name, {}, refs)
        names = [*methods, *(v for v in VARIANTS if config.startswith("joint") and VARIANTS[v][0] in methods)]
        for name in names:
            _one_method(args, config, name, overrides, refs)
        print(f"[reproduce] {config} done", flush=True)
    write_table(out, args.configs)


def _trained(args, subset, config, name):
    """Reuse OUT/models/<name> when present, else train it with `pebench.training.train`."""
    from pebench.training import train

    path = Path(args.out) / "models" / name
    if not (path / "config.json").is_file():
        print(f"[reproduce] training {name} ({subset} of {config})", flush=True)
        train(args.data, config, subset, args.preset, path, seed=args.seed, progress=False)
    return path


def _one_method(args, config, name, overrides, refs):
    from pebench.unlearning import CARD, unlearn

    method, extra = VARIANTS.get(name, (name, {}))
    out = Path(args.out)
    model = out / "models" / config / name
    if not (model / CARD).is_file():
        start = time.time()
        unlearn(args.data, config, refs["finetuned"], method, model, seed=args.seed, overwrite=True,
                overrides={**overrides, **extra})
        print(f"[reproduce] {config} {name}: unlearned in {time.time() - start:.1f} s", flush=True)
    card = json.loads((model / CARD).read_text())
    _evaluate(args, config, model, out / "results" / config / f"{name}.json", name, card["hparams"], refs)


def _evaluate(args, config, model, result_path, method, hparams, refs):
    """Score `model` on `config` into `result_path` (skipped when the file exists).

    The model id, method and hparams come from the model's own card (`pebench.evaluation.model_info`).
    """
    from pebench.evaluation import evaluate
    from pebench.io import atomic_write_json
    from pebench.probes import select
    from pebench.schema import FORGET_CONFIGS

    if Path(result_path).is_file():
        return
    start = time.time()
    result = evaluate(args.data, config, model, goal=refs["goal"], finetuned=refs["finetuned"], seed=args.seed,
                      progress=False, probes=select(args.probes, FORGET_CONFIGS[config][0]))
    atomic_write_json(result_path, result)
    print(f"[reproduce] {config} {method}: evaluated in {time.time() - start:.1f} s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
