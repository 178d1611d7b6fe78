"""(not implemented yet) pebench evaluate."""
from pebench.errors import UserError


def add_arguments(parser):
    pass


def run(args):
    raise UserError("'pebench evaluate' is not implemented yet")
