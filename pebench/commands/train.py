"""(not implemented yet) pebench train."""
from pebench.errors import UserError


def add_arguments(parser):
    pass


def run(args):
    raise UserError("'pebench train' is not implemented yet")
