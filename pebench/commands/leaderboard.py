"""(not implemented yet) pebench leaderboard."""
from pebench.errors import UserError


def add_arguments(parser):
    pass


def run(args):
    raise UserError("'pebench leaderboard' is not implemented yet")
