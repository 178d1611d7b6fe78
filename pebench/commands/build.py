"""(not implemented yet) pebench build."""
from pebench.errors import UserError


def add_arguments(parser):
    pass


def run(args):
    raise UserError("'pebench build' is not implemented yet")
