"""Attack probes: has the model *forgotten* the targets, or only *stopped saying* them?

A probe attacks a model (relearning, quantization, rephrased or prefilled prompts, cross-modal questions,
a logit-lens read-out) and writes **per-sample records** of the attacked model's answers on the forget
splits. Each probe is one file in this package that registers a `Probe` with `register(Probe(...))`;
nothing else lists probes. The result keeps a probe's records in `result["probes"][name]` and
`pebench.results.finish` derives its numbers with the metric table's engine (`pebench.metrics._table`),
named `"{probe}:{cell}"` in `aggregates` / `ci95` / `normalized`, so the leaderboard recomputes and compares
them like every other number. Per row, the worst case for the forgetter over a probe's variants counts
(e.g. the best-answered paraphrase).

Recovery (per probe, on its headline cell c; needs the goal and fine-tuned references):

    recovery = ((U - A) - (G - G_a)) / (G - F)

U, A: the model's plain and attacked value of c; G, G_a: the goal model's plain and attacked value (the
control: what a model that never knew the target gets from the same attack); F: the fine-tuned model's
plain value. 0 = the attack brings back nothing beyond the control; 1 = the whole fine-tuned/goal gap.
Its 95 % interval is a paired bootstrap over the rows (the references are constants).
"""
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from pebench.errors import UserError
from pebench.registry import Registry

PROBES = Registry("probe", "pebench.probes")
SEP = ":"  # "{probe}:{cell}" names a probe's aggregate
FORGET_SPLITS = ("forget_train", "forget_test", "forget_unseen")
RECOVERY = "recovery"
RUN, NOT_RUN = "run", "not_run"


class NotRun(Exception):
    """A probe that cannot run here (a library or kernel missing, nothing to attack): the reason is recorded."""


@dataclass(frozen=True)
class Probe:
    """One attack.

    Attributes:
        name: registered name (lowercase).
        summary: one sentence for the board's page and `pebench probe --list`.
        attack: `attack(ctx, settings) -> records` (see `Context`); raises `NotRun` when it cannot run.
        settings: the attack's fixed settings (the board requires the goal reference's, so no submitter
            can weaken an attack); stored with the records.
        headline: the forget cell recovery and robust efficacy read ("efficacy"; "generality" for an
            attack that trains on forget_train rows).
        targets: the targets it applies to.
        training: the attack trains the model (its goal control is not expected to stay at 100).
        cheap: part of the demo's quick subset.
        skip_splits: forget splits it does not score (what a relearning attack trained on).
        cells: cells of its own instead of the forget cells (`forget_placements`), e.g. fact leakage.
        score: `score(records, refs, judge, fresh)` setting each record's `score`; default: the task's
            record score (`pebench.metrics.record_score`).
    """

    name: str
    summary: str
    attack: Callable
    settings: dict = field(default_factory=dict)
    headline: Optional[str] = "efficacy"
    targets: tuple = ("person", "event", "joint")
    training: bool = False
    cheap: bool = True
    skip_splits: tuple = ()
    cells: Optional[tuple] = None
    score: Optional[Callable] = None


def register(probe):
    """Add a `Probe` to the registry (called at import of a probe module); returns it."""
    PROBES.register(probe.name)(probe)
    return probe


def select(spec, target=None):
    """Probe names from "all", "cheap" (no training), "none" or a comma list; UserError for an unknown name."""
    spec = (spec or "none").strip()
    if spec == "none":
        return []
    if spec in ("all", "cheap"):  # those that apply to the target
        return [n for n, p in PROBES.items() if (spec == "all" or p.cheap) and (target is None or target in p.targets)]
    names = [n.strip() for n in spec.split(",") if n.strip()]
    for name in names:
        PROBES.get(name)  # UserError listing the valid names
    return list(dict.fromkeys(names))  # one named for another target is recorded as not run, with why


# ------------------------------------------------------------------------------------ running
@dataclass
class Context:
    """What an attack gets: the model folder, the loaded forget rows and the evaluation settings."""

    data_dir: str
    config: str
    model: str
    rows: dict  # {split: rows with images}, the scored splits (`evaluation.load_splits`)
    target: str
    seed: int = 0
    batch_size: int = 32
    max_new_tokens: int = 48
    timings: dict = field(default_factory=dict)  # probe -> seconds (model loading included)
    plain: dict = field(default_factory=dict)  # {(split, id): the plain evaluation's greedy prediction}

    def own_rows(self, splits=FORGET_SPLITS):
        """{split: rows of the target's forgotten tasks} on `splits`."""
        from pebench.evaluation import target_tasks

        tasks = target_tasks(self.target)
        return {s: [r for r in self.rows.get(s, []) if r["task"] in tasks] for s in splits if s in self.rows}

    def load(self):
        from pebench.adapter import VLM

        return VLM.from_pretrained(str(self.model))

    def answer(self, vlm, splits=FORGET_SPLITS, variant="", prefixes=None):
        """Records of `vlm`'s greedy answers on the own-task rows of `splits`."""
        picked = [(s, r) for s, rows in self.own_rows(splits).items() for r in rows]
        texts = vlm.generate([r for _, r in picked], max_new_tokens=self.max_new_tokens, batch_size=self.batch_size,
                             prefixes=None if prefixes is None else [prefixes(r) for _, r in picked])
        return [record(s, r, t, variant) for (s, r), t in zip(picked, texts)]


def record(split, row, prediction, variant="", task=None):
    """One probe record (`result.schema.json#/$defs/probe_record`)."""
    return {"id": row["id"], "split": split, "task": task or row["task"], "variant": variant, "prediction": prediction}


def parse_overrides(pairs):
    """`--probe-set PROBE.KEY=VALUE` pairs -> {probe: {key: value}} (values read as YAML scalars)."""
    from pebench.unlearning import parse_value

    out = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        probe, dot, setting = key.strip().partition(".")
        if not sep or not dot or not probe or not setting:
            raise UserError(f"--probe-set expects PROBE.KEY=VALUE (e.g. relearn.steps=10), got {pair!r}")
        out.setdefault(probe, {})[setting] = parse_value(value)
    return out


def settings_of(names, overrides=None):
    """{probe: settings}: each probe's settings with `overrides` ({probe: {key: value}}) checked and applied.

    Raises:
        UserError: an unknown probe or key, a value the attack refuses (e.g. 0 relearning steps).
    """
    overrides = overrides or {}
    for name in sorted(set(overrides) - set(names)):
        raise UserError(f"settings given for probe {name!r}, which is not run (add it to --probes)")
    out = {}
    for name in names:
        probe = PROBES.get(name)
        given = overrides.get(name) or {}
        unknown = sorted(set(given) - set(probe.settings))
        if unknown:
            raise UserError(f"probe {name!r} has no setting {unknown[0]!r}; its settings: "
                            f"{', '.join(sorted(probe.settings)) or 'none'}")
        out[name] = {**probe.settings, **given}
        check = getattr(probe.attack, "check", None)
        if check:
            check(out[name])
    return out


def run(names, ctx, overrides=None):
    """{name: section} for the probes: {"status": "run", "settings", "records"} or {"status": "not_run",
    "reason"}. Deterministic: each attack is seeded from the evaluation seed; wall times go to `ctx.timings`."""
    import time

    from transformers import set_seed

    settings, out = settings_of(names, overrides), {}
    for name in names:
        probe = PROBES.get(name)
        if ctx.target not in probe.targets:
            out[name] = {"status": NOT_RUN, "reason": f"does not apply to the {ctx.target} target"}
            continue
        set_seed(ctx.seed)
        start = time.time()
        try:
            records = probe.attack(ctx, dict(settings[name]))
        except NotRun as err:
            out[name] = {"status": NOT_RUN, "reason": str(err)}
            continue
        out[name] = {"status": RUN, "settings": settings[name], "records": sorted(records, key=_key)}
        ctx.timings[name] = time.time() - start  # not in the result: same seed, same bytes
    return out


def _key(r):
    return r["split"], r["task"], r["id"], r["variant"]


# ------------------------------------------------------------------------------------ scoring
def forget_placements(target):
    """The forget cells under attack: the prediction-scored cells of the target's own task on the forget
    splits (efficacy, generality, generality on unseen renderings), from the metric table."""
    from pebench.metrics._table import placements

    return [(n, c, b) for n, c, b in placements(target)
            if set(c.splits) <= set(FORGET_SPLITS) and c.needs == ("prediction",) and c.task == "own"
            and c.direction == "higher"]


def placements(probe, target):
    if probe.cells is not None:
        return [(c.name, c, None) for c in probe.cells]
    return [(n, c, b) for n, c, b in forget_placements(target) if not set(c.splits) & set(probe.skip_splits)]


def headlines(probe, target):
    """The aggregate names recovery is computed for (one per block on the joint target)."""
    if probe.headline is None:
        return []
    return [n for n, c, _ in placements(probe, target) if c.name == probe.headline]


def aggregate_names(target):
    """Every probe aggregate a result of `target` can hold."""
    out = set()
    for name, probe in PROBES.items():
        if target not in probe.targets:
            continue
        placed = placements(probe, target)
        out |= {f"{name}{SEP}{n}" for n, _, _ in placed}
        if target == "joint":
            out |= {f"{name}{SEP}{c.name}" for _, c, b in placed if c.joint and b}
        out |= {f"{name}{SEP}{RECOVERY}{_suffix(n, probe)}" for n in headlines(probe, target)}
    return out


def _suffix(name, probe):
    """"" for the headline itself; "_person"/"_event" for a joint block's headline."""
    return "" if name == probe.headline else "_" + name[:-len(probe.headline) - 1]


def recovery_names(target):
    return {n for n in aggregate_names(target) if n.split(SEP, 1)[1].startswith(RECOVERY)}


def worst_case(records):
    """One record per (split, task, id): the variant that scored highest (the worst case for the forgetter)."""
    best = {}
    for r in records:
        key = (r["split"], r["task"], r["id"])
        if r.get("score") is not None and (key not in best or r["score"] > best[key]["score"]):
            best[key] = r
    return list(best.values())


def compute(result, refs, judge, fresh=False):
    """{aggregate name: {"value", "ci95"}} of every probe that ran in `result` (scores its records in place)."""
    from pebench.metrics._table import compute as compute_cells
    from pebench.results import score_records

    target, out = result["dataset"]["target"], {}
    for name, section in sorted((result.get("probes") or {}).items()):
        if section.get("status") != RUN:
            continue
        probe = PROBES.get(name)
        (probe.score or score_records)(section["records"], refs, judge, fresh)
        attacked = {**result, "records": worst_case(section["records"])}
        out.update(compute_cells(attacked, refs, placements(probe, target), prefix=f"{name}{SEP}"))
        out.update(recoveries(probe, result, attacked, refs))
    return out


def recoveries(probe, plain, attacked, refs):
    """`{probe}:recovery[_block]` against the references in `plain` (none without both or on a zero gap)."""
    from pebench.metrics._table import Planned, bootstrap

    goal, finetuned = ((plain.get("reference") or {}).get(side) or {} for side in ("goal", "finetuned"))
    out = {}
    for name, cell, block in placements(probe, plain["dataset"]["target"]):
        if name not in headlines(probe, plain["dataset"]["target"]):
            continue
        g, g_a, f = goal.get(name), goal.get(f"{probe.name}{SEP}{name}"), finetuned.get(name)
        if None in (g, g_a, f) or abs(g - f) < 1e-9:
            continue
        pairs = _paired(plain, attacked, cell, block, refs)
        if pairs is None:
            continue

        def statistic(group, cell=cell, g=g, g_a=g_a, f=f):
            drop = cell.scale * (cell.statistic(group[..., 0]) - cell.statistic(group[..., 1]))
            return (drop - (g - g_a)) / (g - f)

        plan = Planned([pairs], statistic, True)
        key = f"{probe.name}{SEP}{RECOVERY}{_suffix(name, probe)}"
        value = float(statistic(pairs[None])[0])
        out[key] = {"value": value, "ci95": bootstrap(plan, plain["eval"]["bootstrap"], plain["eval"]["seed"], key)}
    return out


def _paired(plain, attacked, cell, block, refs):
    """(n, 2) array of (plain, attacked) per-row scores on the cell's split, rows matched by id."""
    from pebench.metrics._table import Records, View

    rows = {}
    for which, res in ((0, plain), (1, attacked)):
        view = View(Records(res["records"], refs), block, "", res)
        for r in view.rows(cell.splits[0], cell.task, need=("score",)):
            rows.setdefault(r["id"], [None, None])[which] = r["score"]
    both = [v for _, v in sorted(rows.items()) if None not in v]
    if not both:
        return None
    return np.asarray(both, dtype=np.float64)


# ------------------------------------------------------------------------------- verification
def dataset_rows(data_dir, config):
    """{split: rows (id, task, question, paraphrases)} a probe may attack: the target's own-task rows of the
    forget splits and every `forget_profile` row, read from the dataset (what the board checks against)."""
    from pebench import data
    from pebench.evaluation import target_tasks
    from pebench.schema import FORGET_CONFIGS, source_of

    tasks, out = target_tasks(FORGET_CONFIGS[config][0]), {}
    for split in (*FORGET_SPLITS, "forget_profile"):
        if source_of(config, split) is None:
            continue
        rows = data.load_rows(data_dir, *source_of(config, split),
                              columns=["id", "task", "question", "question_paraphrases"])
        out[split] = [r for r in rows if split == "forget_profile" or r["task"] in tasks]
    return out


def expected_keys(probe, settings, rows):
    """{(split, task, id, variant)} a complete run of `probe` writes, from the dataset rows (`dataset_rows`)."""
    keys = getattr(probe.attack, "keys", None)
    if keys is not None:
        return keys(settings, rows)
    return {(s, r["task"], r["id"], "") for s, split_rows in rows.items() for r in split_rows
            if s in FORGET_SPLITS and s not in probe.skip_splits}


def check(result, rows, goal=None, own_settings=False):
    """Refuse a probe section the board cannot trust; returns None or the reason (a string).

    `rows`: `dataset_rows(data_dir, config)` (ids, tasks, paraphrases). A probe that ran
    must hold exactly one record per row and variant of a complete run (no dropped rows, no extras) and
    the settings the board's goal reference ran with (or the probe's own when the goal has none);
    `own_settings`: a board reference itself, whose settings are the board's.
    """
    for name, section in sorted((result.get("probes") or {}).items()):
        if name not in PROBES:
            return f"probes.{name}: unknown probe; choose from: {', '.join(PROBES.names())}"
        if section.get("status") != RUN:
            continue
        probe = PROBES.get(name)
        want = (((goal or {}).get("probes") or {}).get(name) or {}).get("settings") or probe.settings
        if own_settings:
            want = section.get("settings") if isinstance(section.get("settings"), dict) else want
        if section.get("settings") != want:
            return f"probes.{name}.settings {section.get('settings')} are not the board's {want}"
        have = [_key(r) for r in section["records"]]
        expected = expected_keys(probe, want, rows)
        if len(set(have)) != len(have):
            return f"probes.{name} has duplicate records"
        missing, extra = expected - set(have), set(have) - expected
        if missing or extra:
            which = sorted(missing or extra)[0]
            return (f"probes.{name} {'misses' if missing else 'has extra'} {len(missing or extra)} record(s) "
                    f"(e.g. {which})")
    return None


def state(result):
    """{probe: "run" | "not run: reason"} of a result (empty for a result scored without probes)."""
    return {n: s.get("status") if s.get("status") == RUN else f"not run: {s.get('reason', 'no reason given')}"
            for n, s in sorted((result.get("probes") or {}).items())}
