"""Score one model on one forget config: batched generation and answer log-likelihoods -> a result dict.

`evaluate(...)` writes per-sample records first (prediction, answer token log-probs, what truth ratio
and membership inference need) and derives every number from them with `pebench.results.finish`, the
same code `results.recompute` runs for the leaderboard. The goal and fine-tuned reference models are
scored the same way once and cached (keyed by the model folder's files, the dataset fingerprint, the
config and the evaluation settings), so scoring many unlearned models costs one reference run each.
"""
import hashlib
import json
import os
import sys
from pathlib import Path

from pebench import data, distributed
from pebench.errors import UserError
from pebench.schema import EVENT_DESCRIPTION, FORGET_CONFIGS, PERSON_NAME, record_splits, source_of

REQUIRED = ("forget_train", "forget_test", "retain_test")  # an empty one of these is an error
TRAIN_CARD, UNLEARN_CARD = "pebench_train.json", "unlearning.json"
CACHE_VERSION = "2"  # 2: records and aggregates from the metric table, judge version


def evaluate(data_dir, config, model, goal=None, finetuned=None, batch_size=32, max_new_tokens=48, seed=0,
             judge=None, limit=None, bootstrap=1000, cache_dir=None, progress=True, probes=(), probe_settings=None,
             as_reference=False):
    """Evaluate `model` (a checkpoint folder) on `config` and return the result dict.

    Args:
        data_dir: a dataset folder written by `pebench build`.
        config: a forget config (`pebench.schema.FORGET_CONFIGS`).
        model: checkpoint folder (with `pebench_train.json` or `unlearning.json` if pebench wrote it).
        goal, finetuned: reference models: a checkpoint folder (scored once, then cached) or a result
            JSON of one. Both give `normalized`; the goal also gives forget quality and privleak.
        batch_size, max_new_tokens: generation and scoring batch size; greedy answer length.
        seed: evaluation seed (bootstrap resamples).
        judge: description judge spec (`pebench.judges`).
        limit: score only the first `limit` rows (by id) of each split, for quick checks.
        bootstrap: resamples for the 95 % intervals (0: none).
        cache_dir: where reference records are cached (default: inside each reference model folder,
            or ~/.cache/pebench when that is not writable).
        progress: show progress bars on stderr.
        probes: attack probes to run (`pebench.probes`); each needs the goal model (its control), which
            is then evaluated with the same probes.
        probe_settings: {probe: {key: value}} overriding a probe's settings (e.g. relearning steps).
        as_reference: the model is scored as a reference (its own control; no goal needed for probes).
    """
    import pebench
    from pebench import results
    from pebench.judges import DEFAULT as DEFAULT_JUDGE
    from pebench.judges import make_judge

    if config not in FORGET_CONFIGS:
        raise UserError(f"unknown config {config!r}; choose from: {', '.join(FORGET_CONFIGS)}")
    meta = data.metadata(data_dir)
    info = model_info(model, data.fingerprint(data_dir))
    judge = judge or DEFAULT_JUDGE
    judge_obj = make_judge(judge)
    from pebench.probes import settings_of

    probes = list(probes or ())
    wanted = settings_of(probes, probe_settings)  # bad settings fail before any model is loaded
    if probes and goal is None and not as_reference and info["method"] not in ("goal", "finetuned"):
        raise UserError(f"probe(s) {', '.join(probes)} need the goal model as their control: pass --goal")
    settings = dict(batch_size=batch_size, max_new_tokens=max_new_tokens, seed=seed, judge=judge, limit=limit,
                    bootstrap=bootstrap, cache_dir=cache_dir, progress=progress, probes=probes,
                    probe_settings=probe_settings)
    refs = {name: reference(spec, name, data_dir, config, settings) for name, spec in
            (("goal", goal), ("finetuned", finetuned)) if spec is not None}
    held = (refs["goal"].get("probes") or {}) if "goal" in refs else None
    lacking = [p for p in probes if held is not None and (p not in held or held[p].get("status") == "run"
                                                        and held[p].get("settings") != wanted[p])]
    if lacking:
        raise UserError(f"the goal result {goal} holds no records of probe(s) {', '.join(lacking)} with these "
                        "settings (their control): evaluate the goal model with the same --probes, or pass its folder")
    rows = load_splits(data_dir, config, limit)
    # Under torchrun each rank scores every W-th row of each split; the records are gathered in row order.
    records = distributed.gather_records(
        score_model(model, distributed.shard(rows), record_plan(config), FORGET_CONFIGS[config][0], batch_size,
                    max_new_tokens, progress and distributed.is_main()), rows)
    result = {
        "schema_version": results.SCHEMA_VERSION, "pebench_version": _version(),
        "model": info,
        "dataset": {"config": config, "target": FORGET_CONFIGS[config][0], "fingerprint": meta.get("fingerprint"),
                    "seed": meta.get("seed")},
        "eval": {"seed": seed, "judge": judge_obj.name, "judge_version": getattr(judge_obj, "version", None),
                 "bootstrap": bootstrap, "max_new_tokens": max_new_tokens, "limit": limit},
        "versions": pebench.versions(), "records": records,
        "reference": {}, "aggregates": {}, "ci95": {}, "normalized": {},
    }
    if probes:
        from pebench.probes import Context, run

        plain = {(r["split"], r["id"]): r["prediction"] for r in records if r["prediction"] is not None}
        ctx = Context(str(data_dir), config, str(model), rows, FORGET_CONFIGS[config][0], seed, batch_size,
                      max_new_tokens, plain=plain)
        result["probes"] = run(probes, ctx, probe_settings)
        # one line even with --quiet (no progress bars): what each attack cost is what a user sizes runs by
        print("probes: " + ", ".join(f"{n} {t:.1f} s" for n, t in ctx.timings.items()), file=sys.stderr)
    result = results.with_references(result, refs)
    return results.finish(result, results.references(data_dir, config), judge_obj, fresh=True)


# ------------------------------------------------------------------------------------ inputs
def model_info(model, fingerprint):
    """{"id", "method", "hparams", "seed", "base"[, "selection"]} from the checkpoint's pebench card.

    `base`: the pebench base it descends from (id, fingerprint) or None; `selection`: an unlearned
    model's rule, kept step and budget. Refuses a model trained on another dataset.
    """
    path = Path(model)
    if not (path / "config.json").is_file():
        raise UserError(f"{model} is not a model folder (no config.json)")
    unlearn, train = _card(path / UNLEARN_CARD), _card(path / TRAIN_CARD)
    card = unlearn or train or {}
    used = (card.get("dataset") or {}).get("fingerprint")
    if used and fingerprint and used != fingerprint:
        raise UserError(f"{model} was trained on dataset {used[:16]}, but this dataset is {str(fingerprint)[:16]}; "
                        "evaluate on the dataset the model was trained on")
    if unlearn:
        method, hparams = unlearn.get("method", "unknown"), unlearn.get("hparams") or {}
    elif train:
        method, hparams = {"full": "finetuned", "retain": "goal"}.get(train.get("subset"), "trained"), {}
    else:
        method, hparams = "unknown", {}
    info = {"id": path.resolve().name, "method": method, "hparams": hparams, "seed": card.get("seed"),
            "base": card.get("base")}
    if unlearn and unlearn.get("selection"):
        chosen, budget = unlearn["selection"], unlearn.get("budget") or {}
        info["selection"] = {"rule": chosen["rule"], "step": chosen["step"], "budget_steps": budget.get("steps"),
                             "epochs": budget.get("epochs")}
    return info


def _card(path):
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise UserError(f"{path} is unreadable: {err}") from None


def load_splits(data_dir, config, limit=None):
    """{split: rows (with images)} for every scored split; UserError for a missing or empty one."""
    import datasets

    quiet = datasets.utils.are_progress_bars_disabled()
    datasets.utils.disable_progress_bars()  # "Generating split" bars: noise for an evaluation
    try:
        return _load_splits(data_dir, config, limit)
    finally:
        if not quiet:
            datasets.utils.enable_progress_bars()


def _load_splits(data_dir, config, limit):
    out = {}
    for split in record_splits(config):
        name, part = source_of(config, split)
        ds = data.load_split(data_dir, name, part)
        if split in REQUIRED and len(ds) == 0:
            raise UserError(f"split {part!r} of config {name!r} is empty; rebuild the dataset with more people")
        rows = sorted(ds, key=lambda r: r["id"])  # iterating decodes images to PIL
        out[split] = rows[:limit] if limit else rows
    return out


def record_plan(config):
    """{split: record fields} that the declared cells applying to `config` read on each record split."""
    from pebench.metrics._table import placements

    plan = {split: set() for split in record_splits(config)}
    for _, cell, _ in placements(FORGET_CONFIGS[config][0]):
        for split in set(cell.splits) & set(plan):
            plan[split].update(cell.needs)
    return plan


# ------------------------------------------------------------------------------------ scoring
def score_model(model, rows, plan, target, batch_size=32, max_new_tokens=48, progress=True):
    """Per-sample records for every row: what `plan` ({split: fields}, see `record_plan`) asks for.

    Every row of a split that needs "prediction" gets a greedy prediction; rows of the target's tasks
    get answer log-probs ("logprobs"), their per-token mean/std ("stats") and truth-ratio NLLs where asked.
    """
    from pebench.adapter import VLM

    vlm = VLM.from_pretrained(str(model))
    tasks = target_tasks(target)
    records = {split: [{"id": r["id"], "split": split, "task": r["task"], "prediction": None} for r in split_rows]
               for split, split_rows in rows.items()}
    generated = [(s, i) for s, split_rows in rows.items() if "prediction" in plan[s] for i in range(len(split_rows))]
    predictions = _batched(lambda chunk: vlm.generate(chunk, max_new_tokens=max_new_tokens, batch_size=batch_size),
                           [rows[s][i] for s, i in generated], batch_size, progress, "generate")
    for (s, i), text in zip(generated, predictions):
        records[s][i]["prediction"] = text
    _likelihoods(vlm, rows, records, plan, tasks, batch_size, progress)
    return [record for split_records in records.values() for record in split_records]  # load_splits order


def target_tasks(target):
    """The tasks a target forgets: the person's name, the event's description, or both."""
    return {"person": (PERSON_NAME,), "event": (EVENT_DESCRIPTION,)}.get(target, (PERSON_NAME, EVENT_DESCRIPTION))


def _likelihoods(vlm, rows, records, plan, tasks, batch_size, progress):
    """Answer log-probs (+ mean/std where asked) and truth-ratio NLLs for rows of the target tasks."""
    for split in (s for s in rows if "logprobs" in plan[s]):
        picked = [i for i, r in enumerate(rows[split]) if r["task"] in tasks]
        items = [rows[split][i] for i in picked]
        stats = "stats" in plan[split]
        out = _batched(lambda c: vlm.token_logprobs(c, batch_size=batch_size, with_stats=stats), items, batch_size,
                       progress, f"log-probs {split}")
        for i, lp in zip(picked, out):
            records[split][i]["logprobs"] = _floats(lp["logprobs"])
            if stats:
                records[split][i]["mean"], records[split][i]["std"] = _floats(lp["mean"]), _floats(lp["std"])
    for split in (s for s in rows if "truth_ratio" in plan[s]):
        picked = [(i, r) for i, r in enumerate(rows[split]) if r["task"] in tasks]
        _truth_ratio_nlls(vlm, picked, records[split], batch_size, progress)


def _truth_ratio_nlls(vlm, indexed, records, batch_size, progress):
    usable = [(i, r) for i, r in indexed if r.get("answer_paraphrase") and r.get("perturbed_answers")]
    pairs = [(i, r, a) for i, r in usable for a in [r["answer_paraphrase"], *r["perturbed_answers"]]]
    out = _batched(lambda c: vlm.token_logprobs([r for _, r, _ in c], answers=[a for _, _, a in c],
                                                batch_size=batch_size), pairs, batch_size, progress, "truth ratio")
    for (i, _, _), lp in zip(pairs, out):
        nll = round(-float(lp["logprobs"].mean()), 6) if len(lp["logprobs"]) else None
        if "paraphrase_nll" not in records[i]:
            records[i]["paraphrase_nll"], records[i]["perturbed_nll"] = nll, []
        else:
            records[i]["perturbed_nll"].append(nll)
    for i, _ in usable:
        if records[i]["paraphrase_nll"] is None or None in records[i]["perturbed_nll"]:
            del records[i]["paraphrase_nll"], records[i]["perturbed_nll"]


def _batched(fn, items, batch_size, progress, label):
    """fn over `items` in chunks of a few batches, with a progress bar (the adapter batches inside)."""
    from tqdm.auto import tqdm

    out, step = [], max(1, batch_size) * 4
    with tqdm(total=len(items), desc=label, disable=not progress or not items, file=sys.stderr,
              leave=False) as bar:
        for start in range(0, len(items), step):
            chunk = items[start:start + step]
            out += list(fn(chunk))
            bar.update(len(chunk))
    return out


def _floats(array):
    return [round(float(x), 6) for x in array]


# --------------------------------------------------------------------------------- references
def reference(spec, name, data_dir, config, settings):
    """The result of a reference model: read from a result JSON, or computed once and cached."""
    from pebench import results

    path = Path(spec)
    if path.is_file():
        result = results.load(path)
        fingerprint = data.fingerprint(data_dir)
        if result["dataset"]["config"] != config or result["dataset"]["fingerprint"] != fingerprint:
            raise UserError(f"{name} result {spec} is for {result['dataset']['config']} on dataset "
                            f"{result['dataset']['fingerprint'][:16]}, not {config} on {str(fingerprint)[:16]}")
        return result
    if not path.is_dir():
        raise UserError(f"{name} reference {spec} is neither a model folder nor a result file")
    cache = cache_file(path, data_dir, config, settings)
    if cache.is_file():
        try:
            return results.load(cache)
        except UserError:
            pass  # a stale or broken cache entry is recomputed
    result = evaluate(data_dir, config, path, **settings, as_reference=True)
    from pebench.io import atomic_write_json

    try:
        atomic_write_json(cache, result)
    except OSError as err:
        print(f"pebench evaluate: could not cache the {name} records in {cache.parent}: {err.strerror}",
              file=sys.stderr)
    return result


def cache_file(model, data_dir, config, settings):
    """Cache path for a reference model's result: keyed by its files, the dataset and the settings."""
    from pebench import results

    files = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in Path(model).iterdir()
                   if p.is_file() and not p.name.startswith("."))
    key = {"cache": CACHE_VERSION, "pebench": _version(), "files": files, "config": config,
           "fingerprint": data.fingerprint(data_dir),
           **{k: settings[k] for k in ("max_new_tokens", "seed", "judge", "limit", "bootstrap")},
           **({"probes": sorted(settings["probes"]), "probe_settings": settings.get("probe_settings")}
              if settings.get("probes") else {})}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode("utf-8")).hexdigest()[:20]
    base = Path(settings.get("cache_dir") or Path(model) / ".pebench-cache")
    if settings.get("cache_dir") is None and not os.access(model, os.W_OK):
        base = Path.home() / ".cache" / "pebench"
    return base / f"{Path(model).resolve().name}-{config}-{digest}.json"


def _version():
    import pebench

    return pebench.__version__
