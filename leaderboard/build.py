"""Build the leaderboard: verify every submission, rank the verified ones, render every output.

Run as `pebench leaderboard --submissions DIR --data DATASET --out DIR`, or as a script:
`python leaderboard/build.py --submissions leaderboard/submissions --data DATASET --out site`.

Refused entries are listed with their reason and left out; the board still builds from the others. The
output folder is written atomically (all files or none) and is byte-identical for the same inputs: files
are read in sorted order, numbers are printed with fixed formats and nothing depends on time or paths.
"""
import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from leaderboard import entries, scores, verify  # noqa: E402
from leaderboard.entries import Refused  # noqa: E402
from leaderboard.renderers._format import printable  # noqa: E402
from pebench.cli import OneLineParser  # noqa: E402
from pebench.errors import UserError  # noqa: E402

TITLE = "PEBench unlearning leaderboard"
SKIPPED = {"README.md", ".gitkeep"}


def resolve_dataset(data):
    """A local dataset folder, or a hub dataset id fetched into the local cache."""
    path = Path(data)
    if path.is_dir():
        return path
    if path.exists() or data.count("/") != 1 or data.startswith((".", "/")):
        raise UserError(f"dataset {data!r} is neither a folder nor a hub id like 'owner/name'")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(data, repo_type="dataset"))
    except Exception as err:  # the hub client raises many transport-specific types
        raise UserError(f"cannot fetch dataset {data!r} from the hub: {type(err).__name__}") from None


def candidates(folder):
    """Every entry of the submissions folder except hidden files and the folder's README, sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"submissions folder {folder} does not exist")
    return sorted(name for name in os.listdir(folder) if not name.startswith(".") and name not in SKIPPED)


def check_entry(path, data_dir, fingerprint, max_bytes, tolerance, references=None):
    """Load and verify one file; return (envelope, [recomputed result per seed]) or raise Refused.

    An entry with `seeds` (a sweep's chosen setting) has every seed's result verified the same way; they
    must score the same method on the same config.
    """
    entry = entries.load_submission(path, max_bytes)
    config = (entry["result"].get("dataset") or {}).get("config") if isinstance(entry["result"], dict) else None
    fresh = []
    for index, result in enumerate([entry["result"], *entry.get("seeds", [])]):
        try:
            fresh.append(verify.verify_result(result, data_dir, fingerprint, tolerance,
                                              (references or {}).get(config)))
        except (KeyError, TypeError, ValueError, AttributeError) as err:  # shapes recompute cannot use
            raise Refused(f"could not be verified: {type(err).__name__}: {err}") from None
        except Refused as err:
            raise Refused(f"seeds[{index - 1}]: {err}" if index else str(err)) from None
    kinds = {(r["model"]["method"], r["dataset"]["config"]) for r in fresh}
    if len(kinds) > 1:
        raise Refused("its seeds' results score different methods or configs")
    return entry, fresh


def load_references(folder, data_dir, fingerprint, max_bytes=entries.MAX_BYTES):
    """The board's reference models: {config: {"goal": result, "finetuned": result}}, each verified.

    Every `*.json` under `folder` (a result file, or a submission envelope around one) whose method is
    "goal" or "finetuned" and whose dataset is this board's. They are recomputed like any entry (their
    own reference blocks ignored), so a reference cannot carry edited numbers either.
    """
    from pebench import results

    if folder and not Path(folder).is_dir():
        raise UserError(f"references folder {folder} does not exist")
    found = {}
    for path in sorted(Path(folder).rglob("*.json")) if folder else []:
        if path.name.startswith(".") or path.name in SKIPPED:
            continue
        try:
            loaded = entries.load_submission(path, max_bytes) if _is_envelope(path) else {"result": _json(path)}
            result = loaded["result"]
            method, config = result["model"]["method"], result["dataset"]["config"]
            if method not in ("goal", "finetuned") or result["dataset"]["fingerprint"] != fingerprint:
                continue
            fresh = verify.verify_result(results.with_references(result, {}), data_dir, fingerprint,
                                         skip_compare=True)
        except (Refused, UserError, KeyError, TypeError) as err:
            raise UserError(f"reference {path} is not a valid result for this dataset: {err}") from None
        if method in found.setdefault(config, {}):
            raise UserError(f"two {method} references for {config} in {folder}: keep one")
        found[config][method] = fresh
    return found


def _is_envelope(path):
    return "submission_version" in _json(path)


def _json(path):
    import json

    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise UserError(f"{path} is unreadable: {err}") from None


def make_row(file_name, entry, result, references=True):
    """The board row for one verified entry, from the recomputed result (raw values only without references)."""
    from pebench.probes import state

    reference = result["reference"] if references else {}
    metric = scores.metric_scores(result["aggregates"], result.get("ci95", {}), reference)
    point, ci = scores.overall(metric)
    robust = scores.robust_efficacy(result["aggregates"], result.get("ci95", {}), reference, state(result),
                                    metric["efficacy"])
    robust_point, robust_ci = scores.robust_overall(metric, robust)
    return {
        "name": entry["name"], "link": entry.get("link") or "", "notes": entry.get("notes") or "",
        "file": file_name, "method": result["model"]["method"], "model": result["model"]["id"],
        "config": result["dataset"]["config"], "records": len(result["records"]),
        "overall": point, "overall_ci95": ci, "metrics": metric,
        "robust_efficacy": robust, "robust_overall": robust_point, "robust_overall_ci95": robust_ci,
        "probes": state(result), "selection": _selection(result["model"].get("selection")),
    }


def _selection(chosen):
    """"rule, step S of B" as the submitter's card declared it (shown, not verifiable), or ""."""
    if not isinstance(chosen, dict) or not {"rule", "step", "budget_steps"} <= set(chosen):
        return ""
    return f"{chosen['rule']}, step {chosen['step']} of {chosen['budget_steps']}"


def seeded_row(file_name, entry, fresh, references=True):
    """The row of an entry with one result per seed: the first seed's cells and intervals, plus the
    seed count, the chosen setting, and mean and std (n - 1) over seeds of the overall score and of every
    metric's raw value. A multi-seed entry is ranked by its mean overall score. A plain entry (no `seeds`,
    no `setting`) gets the plain row.
    """
    rows = [make_row(file_name, entry, result, references) for result in fresh]
    row = rows[0]
    if "seeds" not in entry and "setting" not in entry:
        return row  # a plain entry: its row (and the board's bytes) as before
    row["seeds"] = len(rows)
    row["setting"] = dict(sorted((entry.get("setting") or {}).items()))
    row["spread"] = {"overall": scores.mean_std([r["overall"] for r in rows])}
    for name in row["metrics"]:
        row["spread"][name] = scores.mean_std([r["metrics"][name]["value"] for r in rows])
    if len(rows) > 1:
        row["overall"] = row["spread"]["overall"][0]
    return row


def group_rows(rows, references=None):
    """Split rows by (target, forget size) in `pebench.schema` order and rank each group.

    `references`: {config: {"goal", "finetuned"}} the board holds; a group without both shows raw values.
    """
    from pebench.schema import FORGET_CONFIGS, TARGETS

    groups = {}
    for row in rows:
        target, size = FORGET_CONFIGS[row["config"]]
        groups.setdefault((TARGETS.index(target), size, target, row["config"]), []).append(row)
    out = []
    for (_, size, target, config), members in sorted(groups.items()):
        refs = ("goal", "finetuned") if references is None else references.get(config, {})
        out.append({"key": f"{target}-{size:02d}", "target": target, "forget": size,
                    "title": f"{target.capitalize()} unlearning, forget {size}%",
                    "rows": scores.rank(scores.rank(members, "robust_overall", "robust_rank")),
                    "references": sorted(refs)})
    return out


def collect(submissions, data_dir, fingerprint, max_bytes, tolerance, references):
    """Verified rows and refused files; file names are shown with odd characters escaped."""
    rows, refused = [], []
    for name in candidates(submissions):
        shown = printable(name, limit=120)
        try:
            entry, fresh = check_entry(Path(submissions) / name, data_dir, fingerprint, max_bytes, tolerance,
                                       references)
        except Refused as err:
            refused.append({"file": shown, "reason": printable(str(err))})
            continue
        complete = set(references.get(fresh[0]["dataset"]["config"], {})) == {"goal", "finetuned"}
        rows.append(seeded_row(shown, entry, fresh, references=complete))
    return rows, refused


def build_board(submissions, data, out=None, overwrite=False, max_bytes=entries.MAX_BYTES,
                tolerance=verify.TOLERANCE, formats=None, references=None):
    """Verify, rank and (if `out` is given) render the board into `out`, atomically.

    Args:
        submissions: folder of submission files (`pebench submit` writes them).
        references: folder of the board's goal and fine-tuned result files (`load_references`); every
            normalized value, score, forget quality and privleak is computed against those. Without
            them a group shows raw values and no overall score.
        data: the dataset folder (or hub id) every submission must have been evaluated on.
        out: output folder; None to only return the board.
        overwrite: replace a non-empty `out`.
        max_bytes: larger submission files are refused unread.
        tolerance: relative and absolute tolerance between submitted and recomputed numbers.
        formats: renderer names (output file names) to write; default all registered.

    Returns:
        The board dict: dataset, groups of ranked rows, refused files with reasons, counts.
    """
    from leaderboard.renderers import RENDERERS
    from pebench import results
    from pebench.io import atomic_dir, atomic_write_text

    data_dir = resolve_dataset(data)
    fingerprint = verify.dataset_fingerprint(data_dir)
    official = verify.official_releases().get(fingerprint)
    refs = load_references(references, data_dir, fingerprint, max_bytes)
    rows, refused = collect(submissions, data_dir, fingerprint, max_bytes, tolerance, refs)
    board = {
        "title": TITLE,
        "dataset": {"fingerprint": fingerprint, "official": official["name"] if official else None},
        "overall_metrics": list(scores.overall_metrics()),
        "references": {config: {side: results.digest(r) for side, r in sorted(sides.items())}
                       for config, sides in sorted(refs.items())},
        "groups": group_rows(rows, refs),
        "refused": refused,
        "counts": {"verified": len(rows), "refused": len(refused)},
    }
    if out is not None:
        renderers = [(name, RENDERERS.get(name)) for name in (formats or RENDERERS.names())]
        with atomic_dir(out, overwrite=overwrite) as tmp:
            for name, render in renderers:
                atomic_write_text(Path(tmp) / name, render(board))
                os.chmod(Path(tmp) / name, 0o644)  # a static site: readable by the web server
            os.chmod(tmp, 0o755)
    return board


def add_arguments(parser):
    parser.add_argument("--submissions", required=True, help="folder of submission files")
    parser.add_argument("--data", required=True, help="dataset folder (or hub id) the board is for")
    parser.add_argument("--out", required=True, help="output folder (written atomically)")
    parser.add_argument("--references", help="folder of the board's goal and fine-tuned result files (the "
                        "reference models every score is computed against; without it: raw values only)")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")
    parser.add_argument("--max-bytes", type=int, default=entries.MAX_BYTES,
                        help="refuse submission files larger than this (default %(default)s)")


def run(args):
    import datasets

    datasets.disable_progress_bars()
    board = build_board(args.submissions, args.data, args.out, args.overwrite, args.max_bytes,
                        references=args.references)
    print(f"{board['counts']['verified']} verified, {board['counts']['refused']} refused -> {args.out}")
    for item in board["refused"]:
        print(f"  refused {item['file']}: {item['reason']}", file=sys.stderr)
    return 0


def main(argv=None):
    parser = OneLineParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except UserError as err:
        print(f"leaderboard: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
