"""(not implemented yet) pebench unlearn."""
from pebench.errors import UserError


def add_arguments(parser):
    pass


def run(args):
    raise UserError("'pebench unlearn' is not implemented yet")
