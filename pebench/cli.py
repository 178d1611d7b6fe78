"""`pebench` command line: one module per sub-command, in the order data flows.

Each command module defines `add_arguments(parser)` and `run(args)`; its docstring's first line is the
help text. The core's commands live in `pebench.commands`; the data builder's and the leaderboard's in
their own packages, named here by module path (the core imports no plugin). User mistakes raise
`UserError` and end as one line on stderr with exit code 2.
"""
import argparse
import importlib
import sys

from pebench.errors import UserError

COMMANDS = {
    "build": "data_builders.command",
    "pretrain": "data_builders.pretrain",
    "show": "pebench.commands.show",
    "train": "pebench.commands.train",
    "unlearn": "pebench.commands.unlearn",
    "evaluate": "pebench.commands.evaluate",
    "probe": "pebench.commands.probe",
    "submit": "leaderboard.submit",
    "leaderboard": "leaderboard.build",
    "publish": "pebench.commands.publish",
    "demo": "pebench.commands.demo",
    "sweep": "pebench.commands.sweep",
}


class OneLineParser(argparse.ArgumentParser):
    """argparse with the project's error contract: one line on stderr, exit code 2 (no usage block)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser():
    parser = OneLineParser(prog="pebench", description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, metavar="N",
                        help="torch CPU threads (default: torch's choice; 1 on a machine shared with other jobs)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, path in COMMANDS.items():
        module = importlib.import_module(path)
        doc = (module.__doc__ or "").strip().splitlines()
        p = sub.add_parser(name, help=doc[0] if doc else "", description=(module.__doc__ or "").strip())
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        _set_threads(args.threads)
        return args._run(args) or 0
    except UserError as err:
        print(f"pebench {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"pebench {args.command}: interrupted", file=sys.stderr)
        return 130


def _set_threads(threads):
    """Why a flag: two OpenMP threads waiting on each other on a busy 2-core machine made steps 10-50x slower."""
    if threads is None:
        return
    if threads < 1:
        raise UserError(f"--threads must be >= 1, got {threads}")
    import torch

    torch.set_num_threads(threads)


if __name__ == "__main__":
    sys.exit(main())
