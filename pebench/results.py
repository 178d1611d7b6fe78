"""The result file: validate it, recompute its numbers from its per-sample records, read its headline.

A result holds one model's per-sample records on one forget config (prediction, answer log-probs, what
truth ratio and membership inference need) and the numbers derived from them. `recompute` derives
`aggregates`, `ci95` and `normalized` again from the records and the dataset's reference answers alone,
with the same code `pebench evaluate` used, so the leaderboard trusts nothing the submitter computed.
Which metric each aggregate uses, on which rows and at which scale, is declared by the metric files
(`pebench.metrics.cells()`); `pebench.metrics._table` computes them.
"""
import copy
import hashlib
import json
from functools import lru_cache
from pathlib import Path

from pebench import data
from pebench.errors import UserError
from pebench.schema import FORGET_CONFIGS, PROFILE_TASKS, SHARED_SPLITS, source_of, splits_of

SCHEMA_VERSION = "1.1"  # 1.1: the optional `probes` section (attack probes); 1.0 files still read
SCHEMA_FILE = Path(__file__).with_name("result.schema.json")


# ------------------------------------------------------------------------------------ reading
def load(path):
    """Read a result file; UserError if it is missing, not JSON or not a valid result."""
    try:
        with open(path, encoding="utf-8") as fh:
            result = json.load(fh)
    except FileNotFoundError:
        raise UserError(f"result file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise UserError(f"result file {path} is unreadable: {str(err).splitlines()[0]}") from None
    validate(result)
    return result


@lru_cache(maxsize=1)
def _schema():
    with open(SCHEMA_FILE, encoding="utf-8") as fh:
        return json.load(fh)


@lru_cache(maxsize=1)
def _validator():
    import jsonschema

    return jsonschema.Draft202012Validator(_schema())


@lru_cache(maxsize=1)
def _fast_check():
    """The same schema compiled to Python (`fastjsonschema`): a full-size result in milliseconds, not seconds.

    It only decides valid / invalid; `jsonschema` then names the first problem of an invalid result.
    """
    import fastjsonschema

    return fastjsonschema.compile({k: v for k, v in _schema().items() if k != "$schema"})


def validate(result):
    """Check `result` against `result.schema.json` (and a few rules JSON Schema cannot state).

    Raises:
        UserError: with the first problem and where it is (e.g. "records[3].split: ...").
    """
    if not isinstance(result, dict):
        raise UserError("a result must be a JSON object")
    errors = [] if _passes_fast_check(result) else sorted(_validator().iter_errors(result),
                                                           key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path).lstrip(".")
        raise UserError(f"{where or 'result'}: {err.message[:200]}")
    config = result["dataset"]["config"]
    if config not in FORGET_CONFIGS:
        raise UserError(f"unknown config {config!r}; choose from: {', '.join(FORGET_CONFIGS)}")
    if result["dataset"]["target"] != FORGET_CONFIGS[config][0]:
        raise UserError(f"target {result['dataset']['target']!r} does not match config {config!r}")
    for i, record in enumerate(result["records"]):
        if source_of(config, record["split"]) is None:
            raise UserError(f"records[{i}].split: unknown split {record['split']!r}")
    from pebench.probes import PROBES

    for name in sorted(result.get("probes") or {}):
        if name not in PROBES:
            raise UserError(f"probes.{name}: unknown probe; choose from: {', '.join(PROBES.names())}")
    unknown = sorted(set(result["aggregates"]) - aggregate_names(result["dataset"]["target"]))
    if unknown:
        raise UserError(f"aggregates.{unknown[0]}: not a cell of pebench.metrics.cells()")
    return result


def _passes_fast_check(result):
    import fastjsonschema

    try:
        _fast_check()(result)
        return True
    except fastjsonschema.JsonSchemaException:
        return False


def headline(result):
    """The board's columns (`pebench.metrics.columns()`) from `aggregates` (None where absent).

    For the joint target these are the means of the person and event blocks on a [0, 1] scale.
    """
    from pebench.metrics import columns

    return {cell.name: result["aggregates"].get(cell.name) for cell in columns()}


def reference_dependent(target):
    """Aggregates computed against the goal model's result (forget quality, privleak), for `target`."""
    from pebench.metrics._table import placements
    from pebench.probes import recovery_names

    return {name for name, cell, _ in placements(target) if cell.reference} | recovery_names(target)


def digest(result):
    """sha256 of a result's dataset and per-sample records: what identifies one model's scoring."""
    payload = json.dumps({"dataset": result["dataset"], "records": result["records"]}, sort_keys=True,
                         ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def as_reference(result):
    """(aggregates, info) that `result` lends as a goal or fine-tuned reference.

    Aggregates that depend on a reference themselves (forget quality, privleak) are left out, so a
    reference is the same whether its own file was scored with references or not. The info names the
    model, the result's `digest` and its per-item forget truth ratios (forget quality).
    """
    from pebench.metrics.truth_ratio import item_ratios

    skip = reference_dependent(result["dataset"]["target"])
    aggregates = {k: v for k, v in result["aggregates"].items() if k not in skip}
    forget = [r for r in result["records"] if r["split"] == "forget_train"]  # only target tasks hold ratios
    return aggregates, {"model": result["model"]["id"], "sha256": digest(result), "truth_ratio": item_ratios(forget)}


def with_references(result, references):
    """`result` (a shallow copy) to be scored against these reference results ({"goal": ..., "finetuned": ...})."""
    out = dict(result)
    lent = {side: as_reference(ref) for side, ref in references.items() if ref is not None}
    out["reference"] = {side: aggregates for side, (aggregates, _) in lent.items()}
    out.pop("reference_info", None)
    if lent:
        out["reference_info"] = {side: info for side, (_, info) in lent.items()}
    return out


def aggregate_names(target):
    """Every aggregate a result of `target` can hold: the declared cells, prefixed per block on joint."""
    from pebench.metrics._table import placements

    from pebench import probes

    placed = placements(target)
    joint = {cell.name for _, cell, _ in placed if cell.joint} if target == "joint" else set()
    return {name for name, _, _ in placed} | joint | probes.aggregate_names(target)


# ------------------------------------------------------------------------------- the dataset side
def split_ids(data_dir, config, split):
    """The row ids of a record split (None if the config has no such split); the leaderboard's coverage."""
    source = source_of(config, split)
    if source is None:
        return None
    try:
        return [row["id"] for row in data.load_rows(data_dir, *source, columns=["id"])]
    except UserError:
        return None


@lru_cache(maxsize=8)
def _references(data_dir, config):
    events = {_key(row, "event_id"): row for row in data.load_rows(data_dir, "events", "train")}
    people = {_key(row, "person_id"): row for row in data.load_rows(data_dir, "people", "train")}
    # The release's events and names: a discriminative judge and name precision compare with all of them.
    release = {"events": tuple(events[k] for k in sorted(events)),
               "people": tuple(sorted(row["name"] for row in people.values()))}
    refs = {}
    for split in (*[s for s in splits_of(config) if s != "retain_train"], *SHARED_SPLITS):
        for row in data.load_rows(data_dir, *source_of(config, split)):
            refs[(split, row["id"])] = {**reference_of(row, events, people), **release}
    return refs


def _key(row, name):
    return row.get(name) or row.get("id")


def references(data_dir, config):
    """{(split, id): reference} for every scored split: what a record is compared with."""
    return _references(str(Path(data_dir).resolve()), config)


def reference_of(row, events, people):
    """The parts of a dataset row the metrics compare a record with."""
    event = events.get(row["event_id"], {})
    return {"task": row["task"], "answer": row["answer"], "person_name": row["person_name"],
            "event_id": row["event_id"], "keywords": list(event.get("keywords") or []),
            "fact": profile_fact(row, people),
            "facts": {task: profile_fact({**row, "task": task}, people) for task in PROFILE_TASKS}}


def profile_fact(row, people):
    """The fact a profile row asks for (job, birthplace city, age) from the `people` table, else None."""
    person = people.get(row["person_id"], {})
    field = {"profile_job": "job", "profile_birthplace": "city", "profile_age": "age"}.get(row["task"])
    value = person.get(field) if field else None
    return None if value in (None, "") else str(value)


# ---------------------------------------------------------------------------------- recomputing
def recompute(result, data_dir):
    """A copy of `result` with record scores, `aggregates`, `ci95` and `normalized` derived afresh.

    Uses only the records, the references stored in the result (the goal/finetuned models' aggregates
    and the goal's per-item truth ratios, which a reader cannot rerun) and the dataset's answers.

    Raises:
        UserError: invalid result, dataset with another fingerprint, records not in the dataset.
    """
    validate(result)
    have = data.fingerprint(data_dir)
    want = result["dataset"]["fingerprint"]
    if have != want:
        raise UserError(f"the result was computed on dataset {want[:16]}, but {data_dir} is {str(have)[:16]}")
    return finish(result, references(data_dir, result["dataset"]["config"]))


def finish(result, refs, judge=None, fresh=False):
    """Score the records against `refs` and fill `aggregates`, `ci95` and `normalized` (a new dict).

    Args:
        result: a result with records (their stored scores are used only for non-deterministic judges).
        refs: `references(data_dir, config)`.
        judge: a judge object; default: made from `result["eval"]["judge"]`.
        fresh: score event descriptions with the judge even if it is not deterministic.
    """
    from pebench import probes
    from pebench.judges import make_judge
    from pebench.metrics._table import compute

    out = copy.deepcopy(result)
    probe_records = [r for s in (out.get("probes") or {}).values() for r in s.get("records") or []]
    missing = [r["id"] for r in out["records"] + probe_records if (r["split"], r["id"]) not in refs]
    if missing:
        raise UserError(f"{len(missing)} records are not rows of the dataset (e.g. {missing[0]!r})")
    judge = judge or make_judge(out["eval"]["judge"])
    check_judge_version(out, judge)
    score_records(out["records"], refs, judge, fresh)
    values = compute(out, refs)
    values.update(probes.compute(out, refs, judge, fresh))  # records of the attacked models, scored alike
    out["aggregates"] = {k: v["value"] for k, v in values.items()}
    out["ci95"] = {k: v["ci95"] for k, v in values.items() if v["ci95"] is not None}
    out["normalized"] = normalize(out["aggregates"], out.get("reference", {}))
    return out


def check_judge_version(result, judge):
    """A deterministic judge re-scores the predictions: refuse a result scored by another version of it."""
    have, want = getattr(judge, "version", None), result["eval"].get("judge_version")
    if want is not None and have is not None and str(want) != str(have):
        raise UserError(f"the result was scored by judge {judge.name!r} version {want}, this pebench has "
                        f"version {have}; evaluate again")


def score_records(records, refs, judge, fresh=False):
    """Set each generated record's `score` with its task's record score (`pebench.metrics.record_score`).

    `fresh`: ask the judge even if it is not deterministic (at evaluation time); otherwise such a
    judge's stored scores are kept, since a reader cannot re-run it.
    """
    from pebench.metrics import record_scorer

    by_task = {}
    for record in records:
        if record["prediction"] is not None:
            by_task.setdefault(record["task"], []).append(record)
    for task, group in sorted(by_task.items()):
        scorer = record_scorer(task)
        if scorer is None:
            continue
        scores = scorer(group, [refs[(r["split"], r["id"])] for r in group], judge, fresh)
        for record, value in zip(group, scores):
            record["score"] = float(value)


def normalize(aggregates, reference):
    """(value - finetuned) / (goal - finetuned) per aggregate both references have; {} without both.

    Finetuned = 0 and goal = 1 whatever the metric's direction; None where the references coincide.
    """
    goal, finetuned = reference.get("goal"), reference.get("finetuned")
    if not goal or not finetuned:
        return {}
    out = {}
    for name, value in aggregates.items():
        g, f = goal.get(name), finetuned.get(name)
        if value is None or g is None or f is None:
            continue
        out[name] = None if abs(g - f) < 1e-9 else (value - f) / (g - f)
    return out
