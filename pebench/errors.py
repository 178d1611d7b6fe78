"""User-facing errors: the CLI prints them as one line and exits with code 2."""


class UserError(Exception):
    """A mistake in what the user asked for (bad path, unknown name, bad size), not a bug."""
