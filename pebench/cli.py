"""`pebench` command line: one module per sub-command in `pebench.commands`.

Each command module defines `add_arguments(parser)` and `run(args)`; its docstring's first line is the
help text. User mistakes raise `UserError` and end as one line on stderr with exit code 2.
"""
import argparse
import importlib
import sys

from pebench.errors import UserError

COMMANDS = ("build", "train", "evaluate", "unlearn", "submit", "leaderboard", "demo")


def _parser():
    parser = argparse.ArgumentParser(prog="pebench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"pebench.commands.{name}")
        doc = (module.__doc__ or "").strip().splitlines()
        p = sub.add_parser(name, help=doc[0] if doc else "", description=(module.__doc__ or "").strip())
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        return args._run(args) or 0
    except UserError as err:
        print(f"pebench {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"pebench {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
