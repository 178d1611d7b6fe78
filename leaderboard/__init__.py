"""The pebench leaderboard: verified submissions in, a ranked board (Markdown, CSV, HTML) out.

`build_board(submissions, data, out)` is the public entry point (see `leaderboard.build`).
"""


def build_board(*args, **kwargs):
    """See `leaderboard.build.build_board` (imported lazily: the CLI imports this package for --help)."""
    from leaderboard.build import build_board as build

    return build(*args, **kwargs)
