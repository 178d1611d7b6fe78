"""Train a fine-tuned (--subset full) or goal (--subset retain) model on a pebench dataset.

Examples:
  pebench train --data data --config person_forget05 --subset full --model small --out models/finetuned
  pebench train --data data --config person_forget05 --subset retain --model small --out models/goal
A run interrupted after its first checkpoint continues with the same command plus --resume.
"""
from pebench.errors import UserError
from pebench.tracking import REPORT_TO


def add_arguments(parser):
    parser.add_argument("--data", required=True, help="dataset folder written by `pebench build`")
    parser.add_argument("--config", required=True,
                        help="forget config (recorded; picks retain_train for --subset retain)")
    parser.add_argument("--subset", required=True, choices=["full", "retain"],
                        help="full: the fine-tuned model (full/train); retain: the goal model (CONFIG/retain_train)")
    parser.add_argument("--model", default="tiny", help="a preset (tiny, small) or a checkpoint folder (default: tiny)")
    parser.add_argument("--out", required=True, help="output folder for the trained checkpoint")
    parser.add_argument("--epochs", type=float, help="default: 20 for presets, 5 for checkpoints")
    parser.add_argument("--lr", type=float, help="default: 1e-3 for presets, 1e-5 for checkpoints")
    parser.add_argument("--batch-size", type=int, help="default: 32 for presets, 8 for checkpoints")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--replay", type=int, default=0, metavar="N",
                        help="mix N rows of the pretrained base's own corpus into training (default 0)")
    parser.add_argument("--lora", type=int, default=0, metavar="RANK", help="train LoRA adapters of this rank (peft)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run from its last checkpoint")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--report-to", default="none", choices=REPORT_TO,
                        help="Trainer tracking integration (default none; tensorboard logs go to OUT/runs)")


def run(args):
    from pebench import distributed
    from pebench.tracking import tensorboard_logs
    from pebench.training import train

    for name in ("epochs", "lr", "batch_size"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise UserError(f"--{name.replace('_', '-')} must be positive, got {value}")
    if args.lora < 0:
        raise UserError(f"--lora must be a rank >= 0, got {args.lora}")
    with tensorboard_logs(args.out, args.report_to):
        card = train(args.data, args.config, args.subset, args.model, args.out, epochs=args.epochs, lr=args.lr,
                     batch_size=args.batch_size, seed=args.seed, lora=args.lora, resume=args.resume,
                     overwrite=args.overwrite, progress=not args.quiet, report_to=args.report_to,
                     replay=args.replay)
    if distributed.is_main():  # under torchrun one rank reports
        print(f"trained {card['steps']} steps in {card['wall_time_s']:.0f} s, final loss {card['final_loss']}: "
              f"{args.out}")
    return 0
