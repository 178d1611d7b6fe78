"""Publish a dataset release, a checkpoint or the board on the Hugging Face hub, or write the upload folder.

`stage_*` writes exactly the folder that would be uploaded (`--dry-run` keeps it): a release with its
card pointing at the repo, a checkpoint with a model card (headline numbers from the given results), the
board as a static Space (or as a dataset of its table). `publish` refuses before anything leaves the
machine: a repo that is not `ORG/NAME`, no token, a hub that does not answer; then it creates the repo
and uploads the staged folder in one commit, so the repo never holds half a release.
"""
import re
import shutil
import tempfile
from pathlib import Path

from pebench import cards, data
from pebench.errors import UserError
from pebench.io import atomic_dir, atomic_write_text

REPO_TYPES = {"dataset": "dataset", "model": "model", "board": "dataset"}  # a board with --space: "space"
BOARD_TABLE = "leaderboard.csv"
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def check_repo(repo, flag="--repo"):
    """`ORG/NAME` as the hub spells it; anything else is refused before any other work."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if not isinstance(repo, str) or repo.count("/") != 1 or not all(repo.split("/")):
        raise UserError(f"{flag} must be ORG/NAME (e.g. my-org/pebench), got {repo!r}")
    try:
        validate_repo_id(repo)
    except HFValidationError as err:
        raise UserError(f"{flag} {repo!r} is not a valid hub repo id: {str(err).splitlines()[0]}") from None
    return repo


def stage_dataset(data_dir, repo, out):
    """Copy a release (card, metadata, preview, every data file) into `out`; the card loads from `repo`.

    Refused: a folder whose card names a missing file, or whose data files no longer match the
    fingerprint in `metadata.json`.
    """
    data_dir = Path(data_dir)
    meta = data.metadata(data_dir)
    card = _load_card(data_dir / cards.README, "dataset")
    data_files = sorted({path for config in card.data.get("configs") or [] for split in config["data_files"]
                         for path in _paths(split["path"])})
    named = [*data_files, *_linked_files(card.text)]
    missing = [f for f in named if not (data_dir / f).is_file()]
    if missing:
        raise UserError(f"{data_dir}/README.md names {missing[0]}, which the folder does not have")
    if data.fingerprint_files(data_dir, data_files) != meta.get("fingerprint"):
        raise UserError(f"the data files of {data_dir} do not match its metadata.json fingerprint (edited after "
                        "`pebench build`?); rebuild the release")
    for rel in [*named, "metadata.json"]:
        _copy(data_dir / rel, Path(out, rel))
    text = (data_dir / cards.README).read_text(encoding="utf-8")
    atomic_write_text(Path(out, cards.README), text.replace(f'"{cards.HERE}"', f'"{repo}"'))


def stage_model(model_dir, repo, out, results=(), base_model=None, dataset_repo=None):
    """Copy a checkpoint (weights, processor, pebench card, TensorBoard `runs/`) and write its model card."""
    from pebench import results as result_files

    model_dir = Path(model_dir)
    loaded = [result_files.load(path) for path in results]
    text = cards.model_card(model_dir, loaded, repo, base_model, dataset_repo)
    for path in sorted(model_dir.iterdir()):
        if path.name.startswith(".") or path.name == cards.README:
            continue
        if path.is_file() or path.name == "runs":
            _copy(path, Path(out, path.name))
    atomic_write_text(Path(out, cards.README), text)


def stage_board(board_dir, repo, out, space=False):
    """Copy a built board; its card makes it a static Space (`space`) or a dataset of `leaderboard.csv`."""
    board_dir = Path(board_dir)
    if not (board_dir / "index.html").is_file() or not (board_dir / BOARD_TABLE).is_file():
        raise UserError(f"{board_dir} is not a built board (no index.html or {BOARD_TABLE}); "
                        "build one with `pebench leaderboard`")
    for path in sorted(board_dir.iterdir()):
        if path.is_file() and not path.name.startswith(".") and path.name != cards.README:
            _copy(path, Path(out, path.name))
    atomic_write_text(Path(out, cards.README), _board_card(board_dir, repo, space))


def stage(kind, source, repo, out, **options):
    """Write the upload folder of `kind` ("dataset", "model" or "board") into the existing folder `out`."""
    {"dataset": stage_dataset, "model": stage_model, "board": stage_board}[kind](source, repo, out, **options)


def repo_type(kind, space=False):
    return "space" if kind == "board" and space else REPO_TYPES[kind]


def dry_run(kind, source, repo, out, overwrite=False, **options):
    """Write exactly the folder `publish` would upload into `out` (atomically); nothing leaves the machine."""
    check_repo(repo)
    with atomic_dir(out, overwrite) as tmp:
        stage(kind, source, repo, tmp, **options)
    return Path(out)


def publish(kind, source, repo, private=False, **options):
    """Upload `source` to the hub as `repo`; returns the repo's URL.

    Order: the repo name, a token, the hub's answer (`whoami`), the staged folder, then `create_repo`
    and one `upload_folder` commit. Every refusal is a `UserError` raised before the repo is touched.
    """
    from huggingface_hub import HfApi, get_token

    check_repo(repo)
    token = get_token()
    if not token:
        raise UserError("no Hugging Face token: run `hf auth login` or set HF_TOKEN (nothing was uploaded)")
    api = HfApi(token=token)
    _hub_call(api.whoami, "reach the hub")
    rtype = repo_type(kind, options.get("space"))
    with tempfile.TemporaryDirectory(prefix="pebench-publish-") as tmp:
        stage(kind, source, repo, tmp, **options)
        _hub_call(lambda: api.create_repo(repo, repo_type=rtype, private=private, exist_ok=True,
                                          space_sdk="static" if rtype == "space" else None), "create the repo")
        _hub_call(lambda: api.upload_folder(folder_path=tmp, repo_id=repo, repo_type=rtype,
                                            commit_message=f"pebench publish --{kind}"), "upload")
    prefix = {"model": "", "dataset": "datasets/", "space": "spaces/"}[rtype]
    return f"{api.endpoint}/{prefix}{repo}"


def _hub_call(call, what):
    """Run one hub request; any failure (offline, refused connection, bad token) is one line."""
    from huggingface_hub import constants

    try:
        return call()
    except Exception as err:  # the hub client raises many transport- and status-specific types
        detail = str(err).strip().splitlines()[0][:160] if str(err).strip() else ""
        raise UserError(f"cannot {what} at {constants.ENDPOINT}: {type(err).__name__}"
                        f"{': ' + detail if detail else ''} (nothing was uploaded)") from None


def _load_card(path, kind):
    from huggingface_hub import DatasetCard

    if not path.is_file():
        raise UserError(f"{path.parent} has no {path.name} card; rebuild the {kind} with pebench")
    return DatasetCard.load(path)


def _paths(value):
    return [value] if isinstance(value, str) else list(value)


def _linked_files(text):
    """Relative files a card's markdown links to or embeds (pictures), without URLs and anchors."""
    return sorted({m for m in _LINK.findall(text) if "://" not in m and not m.startswith(("#", "mailto:"))})


def _copy(src, dst):
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst)
    else:
        shutil.copyfile(src, dst)


def _board_card(board_dir, repo, space):
    """The board's README: Space front matter (static, `index.html`) or a dataset card for the CSV."""
    from huggingface_hub import DatasetCardData, SpaceCardData

    table = (board_dir / "leaderboard.md").read_text(encoding="utf-8") if (board_dir / "leaderboard.md").is_file() \
        else ""
    table = table.split("\n", 1)[1].lstrip() if table.startswith("# ") else table  # the card has the title
    if space:
        meta = SpaceCardData(title="PEBench unlearning leaderboard", sdk="static", app_file="index.html",
                             license=cards.LICENSE, tags=cards.TAGS, emoji="🧽", colorFrom="gray", colorTo="blue",
                             pinned=False, short_description="Verified machine-unlearning results (PEBench)")
    else:
        meta = DatasetCardData(license=cards.LICENSE, pretty_name="PEBench unlearning leaderboard", tags=cards.TAGS,
                               configs=[{"config_name": "default", "data_files": BOARD_TABLE}])
    body = (f"# PEBench unlearning leaderboard\n\nBuilt by `pebench leaderboard` from verified result files "
            f"(every entry recomputed from its per-sample records). The page is `index.html`; the table is "
            f"`{BOARD_TABLE}` (`datasets.load_dataset(\"{repo}\")` when published as a dataset).\n\n{table}")
    return f"---\n{meta.to_yaml()}\n---\n\n{body}"
