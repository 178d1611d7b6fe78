"""Build the leaderboard (Markdown, CSV, HTML) from verified submissions.

Example: pebench leaderboard --submissions leaderboard/submissions --data data/pebench --out site
Every submission is checked against the dataset (fingerprint, full per-sample records, aggregates
recomputed from them); refused files are listed with the reason and the rest of the board still builds.
"""


def add_arguments(parser):
    from leaderboard.build import add_arguments as add

    add(parser)


def run(args):
    from leaderboard.build import run as build

    return build(args)
