"""Publish a dataset release, a model or the board on the Hugging Face hub (or write the upload folder).

Examples:
  pebench publish --dataset data/pebench --repo my-org/pebench --dry-run release/
  pebench publish --dataset data/pebench --repo my-org/pebench
  pebench publish --model runs/gd --repo my-org/pebench-gd --result results/gd.json --dataset-repo my-org/pebench
  pebench publish --board site --repo my-org/pebench-board --space
The token is the usual one (HF_TOKEN or `hf auth login`). --dry-run DIR writes exactly the folder that
would be uploaded and needs neither a token nor the network. A published release loads with
`datasets.load_dataset("ORG/NAME", "person_forget05")`.
"""
from pebench.errors import UserError


def add_arguments(parser):
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--dataset", metavar="DIR", help="a dataset folder written by `pebench build`")
    what.add_argument("--model", metavar="DIR", help="a model folder written by `pebench train` or `pebench unlearn`")
    what.add_argument("--board", metavar="DIR", help="a board folder written by `pebench leaderboard`")
    parser.add_argument("--repo", required=True, metavar="ORG/NAME", help="the hub repository to create or update")
    parser.add_argument("--space", action="store_true",
                        help="--board only: publish as a static Space showing index.html (default: a dataset "
                             "holding the board's table)")
    parser.add_argument("--result", action="append", default=[], metavar="RESULT.json",
                        help="--model only: a `pebench evaluate` result of this model; its headline numbers go "
                             "in the model card (repeatable, one per config)")
    parser.add_argument("--base-model", metavar="ORG/NAME", help="--model only: the hub id of its base model")
    parser.add_argument("--dataset-repo", metavar="ORG/NAME",
                        help="--model only: the hub id of the dataset it was trained on")
    parser.add_argument("--private", action="store_true", help="create the repository as private")
    parser.add_argument("--dry-run", metavar="OUT", help="write the upload folder to OUT instead of uploading")
    parser.add_argument("--overwrite", action="store_true", help="with --dry-run: replace a non-empty OUT")


def run(args):
    from pebench.publish import check_repo, dry_run, publish

    kind = next(k for k in ("dataset", "model", "board") if getattr(args, k))
    check_repo(args.repo)
    options = _options(args, kind)
    source = getattr(args, kind)
    if args.dry_run:
        out = dry_run(kind, source, args.repo, args.dry_run, overwrite=args.overwrite, **options)
        print(f"wrote the {kind} upload folder for {args.repo} to {out} (nothing uploaded)")
        return 0
    url = publish(kind, source, args.repo, private=args.private, **options)
    print(f"published {source} to {url}")
    return 0


def _options(args, kind):
    """The options of `kind`; an option meant for another kind is refused rather than ignored."""
    from pebench.publish import check_repo

    given = {"--space": args.space, "--result": args.result, "--base-model": args.base_model,
             "--dataset-repo": args.dataset_repo}
    allowed = {"dataset": (), "model": ("--result", "--base-model", "--dataset-repo"), "board": ("--space",)}[kind]
    wrong = [flag for flag, value in given.items() if value and flag not in allowed]
    if wrong:
        raise UserError(f"{wrong[0]} does not apply to --{kind}")
    if kind == "model":
        for flag in ("--base-model", "--dataset-repo"):
            if given[flag]:
                check_repo(given[flag], flag)
        return {"results": args.result, "base_model": args.base_model, "dataset_repo": args.dataset_repo}
    return {"space": args.space} if kind == "board" else {}
