"""Package a result file as a leaderboard submission.

Example: pebench submit runs/ga/result.json --name "GA, lr 1e-5" --link https://example.org --out
leaderboard/submissions. The name must be plain text (no '<', '>', '/', '..'); the link, if any, an
absolute http(s) URL. The file name is derived from the name, config, method and a content hash.
"""


def add_arguments(parser):
    parser.add_argument("result", help="result JSON written by `pebench evaluate`")
    parser.add_argument("--name", required=True, help="display name on the board (at most 80 characters)")
    parser.add_argument("--link", default="", help="optional http(s) link to a paper or code")
    parser.add_argument("--notes", default="", help="optional notes (at most 1000 characters)")
    parser.add_argument("--out", required=True, help="submissions folder to write into")
    parser.add_argument("--overwrite", action="store_true", help="replace an identical existing submission")


def run(args):
    from leaderboard.submit import submit

    path = submit(args.result, args.name, args.out, args.link, args.notes, args.overwrite)
    print(path)
    return 0
