"""Unlearn a forget config's targets from a fine-tuned model with one baseline method.

Example: pebench unlearn --data data/small --config person_forget05 --model runs/finetuned --method gd
         --out runs/gd --set epochs=5 --set lr=5e-4 --set select=goal_nll --goal runs/goal
Training settings come from baselines/configs/<method>.yaml (or --hparams FILE); a method's hyper-parameters
are its loss's keyword defaults (--list shows them); --set key=value overrides either.
"""
from pebench.errors import UserError
from pebench.tracking import REPORT_TO


def add_arguments(parser):
    parser.add_argument("--data", help="dataset folder written by `pebench build`")
    parser.add_argument("--config", help="forget config, e.g. person_forget05")
    parser.add_argument("--model", help="fine-tuned model folder (also the frozen reference)")
    parser.add_argument("--method", help="method name (see --list) or module:attr")
    parser.add_argument("--out", help="output folder for the unlearned model and its unlearning.json card")
    parser.add_argument("--goal", help="goal model folder: needed by the selection rule goal_nll (--set select=goal_nll)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a hyper-parameter or training setting (repeatable)")
    parser.add_argument("--hparams", metavar="FILE", help="flat YAML used instead of the method's config")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    parser.add_argument("--list", action="store_true", help="list the methods and exit")
    parser.add_argument("--report-to", choices=REPORT_TO,
                        help="Trainer tracking integration (default: the report_to setting, none; tensorboard "
                             "logs go to OUT/runs)")


def parse_sets(pairs):
    from pebench.unlearning import parse_value

    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError(f"--set expects KEY=VALUE, got {pair!r}")
        overrides[key.strip()] = parse_value(value)
    return overrides


def run(args):
    from pebench.methods import METHODS, hparams_of, summary

    if args.list:
        for name, loss in METHODS.items():
            defaults = ", ".join(f"{k}={v}" for k, v in sorted(hparams_of(loss).items()))
            print(f"{name:8s} {summary(loss)}" + (f" [{defaults}]" if defaults else ""))
        return 0
    missing = [f"--{k}" for k in ("data", "config", "model", "method", "out") if not getattr(args, k)]
    if missing:
        raise UserError(f"missing {', '.join(missing)} (or pass --list)")
    from pebench import distributed
    from pebench.tracking import tensorboard_logs
    from pebench.unlearning import settings_for, unlearn

    overrides = parse_sets(args.set)
    if args.report_to is not None:
        overrides["report_to"] = args.report_to
    report_to = settings_for(args.method, args.hparams, overrides)["report_to"]
    with tensorboard_logs(args.out, report_to):
        card = unlearn(args.data, args.config, args.model, args.method, args.out, overrides=overrides,
                       hparams_file=args.hparams, seed=args.seed, overwrite=args.overwrite, goal=args.goal)
    if not distributed.is_main():  # under torchrun one rank reports
        return 0
    first, chosen = card["curve"][0], card["selection"]
    print(f"{args.method}: kept step {chosen['step']} of {card['budget']['steps']} (rule {chosen['rule']}) in "
          f"{card['wall_time_s']:.1f} s; forget_val NLL {first['forget_val_nll']:.3f} -> "
          f"{chosen['forget_val_nll']:.3f}, retain_val NLL {first['retain_val_nll']:.3f} -> "
          f"{chosen['retain_val_nll']:.3f}; wrote {args.out}")
    return 0
