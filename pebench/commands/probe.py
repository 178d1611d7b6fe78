"""Attack one model with the probes (removal or suppression?) and write its result with the probe records.

Example:
  pebench probe --data data/pebench --config person_forget05 --model runs/npo \
      --goal runs/goal --finetuned runs/finetuned --probes all --out results/npo.json

The same evaluation as `pebench evaluate --probes`, plus a table per probe: the forget cells under attack,
the recovery against the goal model (every probe's control, so --goal is required) and why a probe did not
run. `pebench probe --list` lists the probes.
"""
from pebench.errors import UserError


def add_arguments(parser):
    from pebench.commands.evaluate import add_probe_arguments

    parser.add_argument("--list", action="store_true", help="list the probes and exit")
    parser.add_argument("--data", help="dataset folder written by `pebench build`")
    parser.add_argument("--config", help="forget config, e.g. person_forget05")
    parser.add_argument("--model", help="checkpoint folder to attack")
    parser.add_argument("--goal", help="goal model folder (or its result JSON with the same probes): the control")
    parser.add_argument("--finetuned", help="fine-tuned model folder or its result JSON (for recovery)")
    parser.add_argument("--out", help="result JSON to write (atomically)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0, help="evaluation and attack seed (default 0)")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for CIs (0: none)")
    parser.add_argument("--cache-dir", help="where reference models' records are cached")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_probe_arguments(parser, default="all")


def run(args):
    from pebench.commands.evaluate import probe_choice
    from pebench.evaluation import evaluate
    from pebench.io import atomic_write_json
    from pebench.probes import PROBES

    if args.list:
        for name, probe in PROBES.items():
            print(f"{name:16s} {probe.summary} {probe.settings}")
        return 0
    missing = [f"--{k}" for k in ("data", "config", "model", "goal", "out") if not getattr(args, k)]
    if missing:
        raise UserError(f"missing {', '.join(missing)} (the goal model is every probe's control; or pass --list)")
    if args.batch_size < 1 or args.max_new_tokens < 1 or args.bootstrap < 0:
        raise UserError("--batch-size and --max-new-tokens must be >= 1, --bootstrap >= 0")
    names, overrides = probe_choice(args, args.config)
    if not names:
        raise UserError(f"no probe applies to {args.config} with --probes {args.probes!r}")
    result = evaluate(args.data, args.config, args.model, goal=args.goal, finetuned=args.finetuned,
                      batch_size=args.batch_size, max_new_tokens=args.max_new_tokens, seed=args.seed,
                      bootstrap=args.bootstrap, cache_dir=args.cache_dir, progress=not args.quiet, probes=names,
                      probe_settings=overrides)
    atomic_write_json(args.out, result)
    print(report(result))
    print(f"-> {args.out}")
    return 0


def report(result):
    """A plain-text table: per probe its attacked cells and recovery [95 % CI], or why it did not run.

    Wall times are not in the result (same seed, same bytes): `evaluate` prints them on stderr.
    """
    from pebench.probes import PROBES, SEP

    aggregates, ci95 = result["aggregates"], result["ci95"]
    lines = [f"{result['model']['id']} on {result['dataset']['config']}: efficacy {_num(aggregates.get('efficacy'))}, "
             f"generality {_num(aggregates.get('generality'))}"]
    for name, section in sorted(result.get("probes", {}).items()):
        if section["status"] != "run":
            lines.append(f"  {name:16s} not run: {section['reason']}")
            continue
        cells = ", ".join(f"{k.split(SEP, 1)[1]} {_num(v)}" + (f" [{_num(ci95[k][0])}, {_num(ci95[k][1])}]"
                                                                if k in ci95 and "recovery" in k else "")
                          for k, v in sorted(aggregates.items()) if k.split(SEP)[0] == name and SEP in k)
        if PROBES.get(name).headline and not any(k.startswith(f"{name}{SEP}recovery") for k in aggregates):
            cells += ", recovery n/a" + ("" if result.get("reference", {}).get("finetuned") else " (pass --finetuned)")
        lines.append(f"  {name:16s} {cells}")
    return "\n".join(lines)


def _num(value):
    return "n/a" if value is None else f"{value + 0.0:.3g}"  # + 0.0: no "-0"
