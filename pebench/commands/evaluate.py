"""Score a model on one forget config and write the result JSON (PEBench cells, TOFU, MIA, CIs).

Example:
  pebench evaluate --data data/pebench --config person_forget05 --model runs/ga \
      --goal runs/goal --finetuned runs/finetuned --out results/ga.json

--goal/--finetuned take a checkpoint folder (scored once, then cached inside it) or a result JSON.
--probes all (or a comma list, see `pebench probe --list`) also attacks the model (relearning,
quantization, prompts, cross-modal, logit lens); the goal model is every probe's control.
"""
from pebench.errors import UserError


def add_arguments(parser):
    parser.add_argument("--data", required=True, help="dataset folder written by `pebench build`")
    parser.add_argument("--config", required=True, help="forget config, e.g. person_forget05")
    parser.add_argument("--model", required=True, help="checkpoint folder to evaluate")
    parser.add_argument("--goal", help="goal (retain-only) model folder or its result JSON")
    parser.add_argument("--finetuned", help="fine-tuned model folder or its result JSON")
    parser.add_argument("--out", required=True, help="result JSON to write (atomically)")
    parser.add_argument("--batch-size", type=int, default=32, help="generation/scoring batch size (default 32)")
    parser.add_argument("--max-new-tokens", type=int, default=48, help="greedy answer length (default 48)")
    parser.add_argument("--seed", type=int, default=0, help="evaluation seed for the bootstrap (default 0)")
    parser.add_argument("--judge", default="event_retrieval",
                        help="description judge: event_retrieval (default), keyword_rouge, hf:MODEL_DIR or "
                             "openai:MODEL")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for CIs (0: none)")
    parser.add_argument("--limit", type=int, help="score only the first N rows of each split (quick check)")
    parser.add_argument("--cache-dir", help="where reference models' records are cached")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_probe_arguments(parser, default="none")


def add_probe_arguments(parser, default):
    parser.add_argument("--probes", default=default,
                        help=f"attack probes: all, cheap (no training), none or a comma list (default {default})")
    parser.add_argument("--probe-set", action="append", default=[], metavar="PROBE.KEY=VALUE",
                        help="override a probe setting, e.g. relearn.steps=10 (repeatable; the board accepts "
                             "only its goal reference's settings)")


def probe_choice(args, config):
    """(probe names, settings overrides) from the command line; UserError for an unknown probe or setting."""
    from pebench.probes import parse_overrides, select, settings_of
    from pebench.schema import FORGET_CONFIGS

    if config not in FORGET_CONFIGS:
        raise UserError(f"unknown config {config!r}; choose from: {', '.join(FORGET_CONFIGS)}")
    names = select(args.probes, FORGET_CONFIGS[config][0])
    overrides = parse_overrides(args.probe_set)
    settings_of(names, overrides)
    return names, overrides


def run(args):
    from pebench.evaluation import evaluate
    from pebench.io import atomic_write_json
    from pebench.results import headline

    for flag, value in (("--batch-size", args.batch_size), ("--max-new-tokens", args.max_new_tokens)):
        if value < 1:
            raise UserError(f"{flag} must be at least 1 (got {value})")
    if args.bootstrap < 0 or (args.limit is not None and args.limit < 1):
        raise UserError("--bootstrap must be >= 0 and --limit >= 1")
    names, overrides = probe_choice(args, args.config)
    from pebench import distributed

    if names and distributed.world_size() > 1:
        raise UserError("attack probes run in one process: evaluate with --probes without torchrun")
    result = evaluate(args.data, args.config, args.model, goal=args.goal, finetuned=args.finetuned,
                      batch_size=args.batch_size, max_new_tokens=args.max_new_tokens, seed=args.seed,
                      judge=args.judge, limit=args.limit, bootstrap=args.bootstrap, cache_dir=args.cache_dir,
                      progress=not args.quiet, probes=names, probe_settings=overrides)
    if not distributed.is_main():  # under torchrun every rank holds the gathered result; one writes it
        distributed.wait()
        return 0
    atomic_write_json(args.out, result)
    shown = ", ".join(f"{k} {v:.4g}" for k, v in headline(result).items() if v is not None)
    print(f"{result['model']['id']} on {args.config}: {shown} -> {args.out}")
    distributed.wait()
