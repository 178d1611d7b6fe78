"""(not implemented yet) pebench submit."""
from pebench.errors import UserError


def add_arguments(parser):
    pass


def run(args):
    raise UserError("'pebench submit' is not implemented yet")
