"""Score a model on one forget config and write the result JSON (PEBench cells, TOFU, MIA, CIs).

Example:
  pebench evaluate --data data/pebench --config person_forget05 --model runs/ga \
      --goal runs/goal --finetuned runs/finetuned --out results/ga.json

--goal/--finetuned take a checkpoint folder (scored once, then cached inside it) or a result JSON.
"""


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


def run(args):
    from pebench.errors import UserError
    from pebench.evaluation import evaluate
    from pebench.io import atomic_write_json
    from pebench.results import headline

    for flag, value in (("--batch-size", args.batch_size), ("--max-new-tokens", args.max_new_tokens)):
        if value < 1:
            raise UserError(f"{flag} must be at least 1 (got {value})")
    if args.bootstrap < 0 or (args.limit is not None and args.limit < 1):
        raise UserError("--bootstrap must be >= 0 and --limit >= 1")
    result = evaluate(args.data, args.config, args.model, goal=args.goal, finetuned=args.finetuned,
                      batch_size=args.batch_size, max_new_tokens=args.max_new_tokens, seed=args.seed,
                      judge=args.judge, limit=args.limit, bootstrap=args.bootstrap, cache_dir=args.cache_dir,
                      progress=not args.quiet)
    from pebench import distributed

    if not distributed.is_main():  # under torchrun every rank holds the gathered result; one writes it
        distributed.wait()
        return 0
    atomic_write_json(args.out, result)
    shown = ", ".join(f"{k} {v:.4g}" for k, v in headline(result).items() if v is not None)
    print(f"{result['model']['id']} on {args.config}: {shown} -> {args.out}")
    distributed.wait()
