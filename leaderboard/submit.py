"""Packaging a result file as a leaderboard submission (`pebench submit`).

The submission is the result wrapped in an envelope with the display name, an optional http(s) link and
notes, written under a safe file name made from the name, the dataset config, the method and a short
content hash (so two different results never collide and the same one always gets the same name).

Example: pebench submit runs/ga/result.json --name "GA, lr 1e-5" --link https://example.org --out
leaderboard/submissions. The name must be plain text (no '<', '>', '/', '..'); the link, if any, an
absolute http(s) URL.
"""
import hashlib
import json
import os
import re
from pathlib import Path

from leaderboard import entries
from leaderboard.entries import Refused
from pebench.errors import UserError


def slug(text, limit=40):
    """Lower-case ASCII letters and digits joined by '-', at most `limit` characters ('entry' if empty)."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return "-".join(words)[:limit].strip("-") or "entry"


def make_submission(result, name, link="", notes="", seeds=(), setting=None):
    """The envelope for `result`; raises UserError on a bad name, link, notes or result.

    `seeds`: results of the same method and setting with other seeds (a sweep's chosen setting); the
    board verifies each and shows mean and std over all. `setting`: the hyper-parameters chosen.
    """
    from pebench import results

    entry = {"submission_version": entries.SUBMISSION_VERSION, "name": name, "link": link or "",
             "notes": notes or "", "result": result}
    if seeds:
        entry["seeds"] = list(seeds)
    if setting:
        entry["setting"] = dict(setting)
    try:
        entries.check_envelope(entry)
    except Refused as err:
        raise UserError(str(err)) from None
    for each in (result, *seeds):
        results.validate(each)
    kinds = {(r["model"]["method"], r["dataset"]["config"], r["dataset"]["fingerprint"]) for r in (result, *seeds)}
    if len(kinds) > 1:
        raise UserError("--seed-result files must score the same method on the same config and dataset")
    return entry


def file_name(entry):
    """`{name}-{config}-{method}-{hash8}.json`, each part a slug, so the name is always safe."""
    result = entry["result"]
    digest = hashlib.sha256(json.dumps(entry, sort_keys=True).encode("utf-8")).hexdigest()[:8]
    parts = [slug(entry["name"]), slug(str(result["dataset"]["config"])), slug(str(result["model"]["method"]))]
    name = "-".join(parts + [digest]) + ".json"
    entries.check_file_name(name)
    return name


def read_result(path, max_bytes=entries.MAX_BYTES):
    """Read a result file with the same limits the board applies (size, strict JSON, finite numbers)."""
    try:
        return entries.parse_json(entries.read_bounded(path, max_bytes), what=f"result file {path}")
    except Refused as err:
        raise UserError(f"{path}: {err}") from None
    except FileNotFoundError:
        raise UserError(f"result file {path} does not exist") from None


def submit(result_path, name, out, link="", notes="", overwrite=False, seed_results=(), setting=None):
    """Write the submission file into folder `out` and return its path."""
    from pebench.io import atomic_write_json

    if not Path(result_path).exists():
        raise UserError(f"result file {result_path} does not exist")
    entry = make_submission(read_result(result_path), name, link, notes,
                            [read_result(p) for p in seed_results], setting)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder")
    target = out / file_name(entry)
    if target.resolve().parent != out.resolve():
        raise UserError(f"refusing to write outside {out}")
    if target.exists() and not overwrite:
        raise UserError(f"{target} already exists (pass --overwrite to replace it)")
    atomic_write_json(target, entry)
    os.chmod(target, 0o644)
    return target


# ------------------------------------------------------------------------------- `pebench submit`
def add_arguments(parser):
    parser.add_argument("result", help="result JSON written by `pebench evaluate`")
    parser.add_argument("--name", required=True, help="display name on the board (at most 80 characters)")
    parser.add_argument("--link", default="", help="optional http(s) link to a paper or code")
    parser.add_argument("--notes", default="", help="optional notes (at most 1000 characters)")
    parser.add_argument("--out", required=True, help="submissions folder to write into")
    parser.add_argument("--overwrite", action="store_true", help="replace an identical existing submission")
    parser.add_argument("--seed-result", action="append", default=[], metavar="RESULT",
                        help="a result of the same method and setting with another seed (repeatable)")
    parser.add_argument("--setting", action="append", default=[], metavar="KEY=VALUE",
                        help="a hyper-parameter of the entry's setting, shown on the board (repeatable)")


def run(args):
    from pebench.commands.unlearn import parse_sets

    path = submit(args.result, args.name, args.out, args.link, args.notes, args.overwrite, args.seed_result,
                  parse_sets(args.setting))
    print(path)
    return 0
