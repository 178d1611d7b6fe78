"""(not implemented yet) pebench demo."""
from pebench.errors import UserError


def add_arguments(parser):
    pass


def run(args):
    raise UserError("'pebench demo' is not implemented yet")
