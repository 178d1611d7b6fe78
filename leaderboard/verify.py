"""Verifying the result inside a submission against the dataset the board is built for.

Nothing the submitter computed is trusted: the board recomputes every aggregate from the per-sample
records with the evaluator's own `pebench.results.recompute` and the dataset's reference answers, and
shows the recomputed numbers. The submitted ones only have to agree (within `TOLERANCE`), so a mismatch
exposes an edited or stale file. The reference models are the board's own (`references`): a submission
scored against other goal or fine-tuned results, or carrying edited reference numbers, is refused; one
scored without references is scored against the board's.
"""
import json
import math
from functools import lru_cache
from pathlib import Path

from leaderboard.entries import Refused
from pebench.errors import UserError

TOLERANCE = 1e-6
OFFICIAL_FILE = Path(__file__).with_name("official_fingerprints.json")


def official_releases():
    """The fingerprints of the official dataset releases: {fingerprint: description}."""
    with open(OFFICIAL_FILE, encoding="utf-8") as fh:
        return {item["fingerprint"]: item for item in json.load(fh)["releases"]}


def dataset_fingerprint(data_dir):
    """The fingerprint in the dataset folder's `metadata.json` (UserError if it is not a dataset)."""
    from pebench import data

    return data.fingerprint(data_dir)


def verify_result(result, data_dir, fingerprint, tolerance=TOLERANCE, references=None, skip_compare=False):
    """Check one result and return the evaluator's recomputation of it, against the board's references.

    Order: schema (with its version), dataset fingerprint, record coverage, reference models, then
    recomputation, so the reason given is the most basic thing that is wrong.

    Args:
        references: the board's {"goal": result, "finetuned": result} for this config (verified), or
            None: the result is then recomputed against the references it carries, and the board shows
            raw values only.
        skip_compare: return the recomputation without comparing (a reference stripped of its blocks).

    Raises:
        Refused: with the reason.
    """
    from pebench import probes, results

    version = result.get("schema_version")
    if not (isinstance(version, str) and version.split(".")[0] == results.SCHEMA_VERSION.split(".")[0]):
        raise Refused(f"schema_version {version!r} is not supported (this board reads "
                      f"{results.SCHEMA_VERSION.split('.')[0]}.x)")
    try:
        results.validate(result)
    except UserError as err:
        raise Refused(f"invalid result: {err}") from None
    got = result["dataset"]["fingerprint"]
    if got != fingerprint:
        where = "an official release" if got in official_releases() else "not an official release either"
        raise Refused(f"dataset fingerprint {got[:16]} does not match this board's dataset "
                      f"{fingerprint[:16]} ({where})")
    check_coverage(result, data_dir)
    check_probes(result, data_dir, (references or {}).get("goal"), own_settings=skip_compare)
    skip = set()
    scored = result
    if references is not None:
        check_reference_models(result, references)
        sides = set(result.get("reference") or {})  # what it was scored against: the board's fill in the rest
        if "goal" not in sides:
            skip = {"normalized", *results.reference_dependent(result["dataset"]["target"])}
        elif "finetuned" not in sides:  # probe recovery needs both references
            skip = {"normalized", *probes.recovery_names(result["dataset"]["target"])}
        scored = results.with_references(result, references)
    try:
        fresh = results.recompute(scored, data_dir)
    except UserError as err:
        raise Refused(f"could not recompute: {err}") from None
    if not skip_compare:
        compare(result, fresh, tolerance, skip)
    missing = [name for name, value in results.headline(fresh).items() if value is None]
    if missing:
        raise Refused(f"the records do not yield {', '.join(missing)} (a scored split is missing)")
    return fresh


def check_reference_models(result, references):
    """A result scored against references must name the board's own (the digest of their records)."""
    from pebench import results

    info = result.get("reference_info") or {}
    for side, used in sorted((result.get("reference") or {}).items()):
        board = references.get(side)
        if board is None:
            raise Refused(f"it was scored against a {side} model, but this board has no {side} reference")
        theirs, mine = (info.get(side) or {}).get("sha256"), results.digest(board)
        if theirs != mine:
            raise Refused(f"it was scored against another {side} model (sha256 {str(theirs)[:12]}) than this "
                          f"board's ({mine[:12]}); evaluate with --{side} set to the board's reference result")


def check_coverage(result, data_dir):
    """Every split the result scores must have exactly one record per dataset row, and no extra rows."""
    by_split = {}
    for record in result["records"]:
        by_split.setdefault(record["split"], []).append(record["id"])
    config = result["dataset"]["config"]
    for split, ids in sorted(by_split.items()):
        expected = split_ids(str(Path(data_dir).resolve()), config, split)
        if expected is None:
            raise Refused(f"records name split {split!r}, which config {config!r} does not have")
        seen = set(ids)
        if len(seen) != len(ids):
            raise Refused(f"split {split!r} has duplicate records ({len(ids) - len(seen)} repeated ids)")
        missing, extra = expected - seen, seen - expected
        if missing:
            raise Refused(f"split {split!r} misses {len(missing)} of {len(expected)} samples "
                          f"(e.g. {sorted(missing)[0]!r})")
        if extra:
            raise Refused(f"split {split!r} has {len(extra)} records for rows not in the dataset "
                          f"(e.g. {sorted(extra)[0]!r})")


def check_probes(result, data_dir, goal=None, own_settings=False):
    """Every probe that ran holds one record per attacked row and variant, with the board's settings (its
    goal reference's; a reference's own): dropping the rows an attack recovered, or running a weaker
    attack, is refused."""
    from pebench import probes

    if not result.get("probes"):
        return
    reason = probes.check(result, _probe_rows(str(Path(data_dir).resolve()), result["dataset"]["config"]), goal,
                          own_settings)
    if reason:
        raise Refused(reason)


@lru_cache(maxsize=16)
def _probe_rows(data_dir, config):
    from pebench import probes

    return probes.dataset_rows(data_dir, config)


@lru_cache(maxsize=64)
def split_ids(data_dir, config, split):
    """The row ids of one split (None if the config has no such split); cached across entries."""
    from pebench import results

    ids = results.split_ids(data_dir, config, split)
    return None if ids is None else frozenset(ids)


def compare(submitted, fresh, tolerance, skip=()):
    """Every submitted aggregate (and interval, normalized score) must equal the recomputed one.

    `skip`: section or aggregate names not compared (what a result scored without references lacks).
    """
    for section in ("aggregates", "normalized", "ci95"):
        if section in skip:
            continue
        mine, theirs = fresh.get(section, {}), submitted.get(section, {})
        for name in sorted((set(mine) | set(theirs)) - set(skip)):
            if name not in theirs or name not in mine:
                raise Refused(f"{section}.{name} is {'missing' if name not in theirs else 'unknown'}")
            a, b = _flat(mine[name]), _flat(theirs[name])
            if len(a) != len(b) or not all(_close(x, y, tolerance) for x, y in zip(a, b)):
                raise Refused(f"{section}.{name} = {_show(theirs[name])} does not match the value "
                              f"recomputed from the records ({_show(mine[name])})")


def _flat(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _close(x, y, tolerance):
    if x is None or y is None:
        return x is None and y is None
    return math.isclose(x, y, rel_tol=tolerance, abs_tol=tolerance)


def _show(value):
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return "null" if value is None else f"{value:.6g}"
