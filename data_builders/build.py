"""Build a dataset folder: people, events, images, QA rows, shards, dataset card and metadata.

The folder is written to a temporary path and renamed at the end, so a failed build leaves nothing.
Rendering runs in worker processes (one per core) in a fixed order: the bytes do not depend on them.
"""
import json
import multiprocessing
import os
from collections import defaultdict
from io import BytesIO
from pathlib import Path

from data_builders import qa
from data_builders.card import write_card, write_preview
from data_builders.catalogue import OBJECTS
from data_builders.events import make_events, wrong_paraphrases
from data_builders.people import decoy_names, make_people, pairwise_min_distance, seeded
from data_builders.renderers import RENDERERS
from data_builders.splits import assign, config_targets, forget_splits, other_splits
from pebench import schema
from pebench.data import fingerprint_files, metadata
from pebench.errors import UserError
from pebench.io import atomic_dir, atomic_write_json

# 1.2: articles in appearance sentences ("an orange shirt"); perturbed answers are wrong versions of the
# paraphrased answer, in its template (TOFU's truth ratio): decoy names nobody in the release has,
# objects the scene does not show, other people's facts; the events table holds each paraphrase.
# 1.1: larger figures, spread skin tones, salient identity distance.
# 1.3: every catalogue object drawn its own way (19 pairs were drawn alike) and outlined; objects the person
# covers are recorded (`hidden`) and never asked about in world questions.
GENERATOR_VERSION = "1.3"


def build(out, people=200, events=40, variants=2, image_size=64, seed=0, renderer="procedural",
          overwrite=False, workers=None, holdout=None, progress=False):
    """Generate the benchmark into folder `out` and return its path.

    Args:
        people: number of fictitious people trained on (holdout people come on top).
        events: number of event scenes (at most the catalogue's 40).
        variants: renderings per (person, event); variant 0 is seen in fine-tuning, the rest unseen.
        image_size: square image side in pixels (64 for the CPU models; 336-512 for real checkpoints).
        holdout: extra never-trained people (default 10 % of `people`, at least 1).
    """
    _check_sizes(people, events, variants, image_size)
    RENDERERS.get(renderer)
    holdout = max(1, round(people * 0.1)) if holdout is None else holdout
    plan = _plan(people, events, holdout, seed)
    with atomic_dir(out, overwrite) as tmp:
        shards = _render_rows(plan, variants, image_size, seed, renderer, workers, progress)
        files, sizes = _write_shards(tmp, shards, plan)
        configs = _configs(sorted(shards))
        meta = _metadata(tmp, plan, people, events, holdout, variants, image_size, seed, renderer, configs, files)
        write_preview(tmp, shards, plan)
        write_card(tmp, configs, files, sizes, meta)
        atomic_write_json(tmp / "metadata.json", meta)
    return Path(out)


def read_metadata(path):
    """The `metadata.json` of a dataset folder (seed, sizes, per-config targets, fingerprint)."""
    return metadata(path)


def _check_sizes(people, events, variants, image_size):
    for name, value, low in (("people", people, 2), ("events", events, 2), ("variants", variants, 2),
                             ("image size", image_size, 32)):
        if not isinstance(value, int) or value < low:
            raise UserError(f"{name} must be an integer >= {low}, got {value!r}")


def _plan(people, events, holdout, seed):
    everyone, min_distance = make_people(people + holdout, seeded(seed, "people"))
    event_list = make_events(events, seeded(seed, "events"))
    ids = [p["id"] for p in everyone]
    pg, eg, fold, world = assign(ids[:people], [e["id"] for e in event_list], ids[people:], seeded(seed, "splits"))
    return {"people": everyone, "events": event_list, "pg": pg, "eg": eg, "fold": fold, "world": set(world),
            "min_distance": min_distance}


def _render_person(job):
    person, events, variants, size, seed, renderer = job
    render = RENDERERS.get(renderer)
    out = []
    for event in events:
        for variant in range(variants):
            image, scene = render(person, event, variant, size, seed)
            buffer = BytesIO()
            image.save(buffer, format="PNG", optimize=False, compress_level=6)
            out.append((event["id"], variant, buffer.getvalue(), scene))
    return out


def _render_rows(plan, variants, size, seed, renderer, workers, progress):
    """Render every image and sort its QA rows into shards keyed by (family, pg, eg, fold, vis)."""
    from tqdm import tqdm

    people, events = plan["people"], plan["events"]
    by_id = {e["id"]: e for e in events}
    shards = defaultdict(list)
    jobs = [(p, events, variants, size, seed, renderer) for p in people]
    workers = workers or min(os.cpu_count() or 1, 4)
    context = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
    with context.Pool(workers) if workers > 1 else _Serial() as pool:
        rendered = pool.imap(_render_person, jobs, chunksize=4)
        for person, images in tqdm(zip(people, rendered), total=len(people), desc="rendering", unit="person",
                                   disable=not progress):
            decoys = decoy_names(people, person, seeded(seed, "decoys", person["id"]))
            for event_id, variant, png, scene in images:
                event = by_id[event_id]
                _add_rows(shards, plan, person, event, variant, {"bytes": png, "path": None}, scene, decoys, seed)
    for person in people:
        group = plan["pg"][person["id"]]
        shards[("profile", group)].extend(qa.profile_rows(person, _others(people, person, seed, 6)["people"]))
    return shards


def _add_rows(shards, plan, person, event, variant, image, scene, decoys, seed):
    pid, eid = person["id"], event["id"]
    vis = "seen" if variant == 0 else "unseen"
    key = (plan["pg"][pid], plan["eg"][eid], plan["fold"][(pid, eid)], vis)
    shards[("name", *key)].append(qa.name_row(image, person, event, variant, decoys))
    wrong = wrong_paraphrases(event, seeded(seed, "perturb", eid))
    shards[("desc", *key)].append(qa.description_row(image, person, event, variant, wrong))
    if (pid, eid) in plan["world"]:
        negatives = _pope_negatives(scene, plan, seeded(seed, "pope", pid, eid, variant))
        shards[("world", "train" if variant == 0 else "test")].extend(
            qa.object_rows(image, person, event, variant, scene, negatives))


def _others(people, person, seed, count=3):
    rng = seeded(seed, "perturb", person["id"])
    pool = [p for p in people if p["id"] != person["id"]]
    return {"people": rng.sample(pool, min(count, len(pool)))}


def _pope_negatives(scene, plan, rng):
    """One present object and one absent object: random, popular or adversarial (POPE's three kinds)."""
    shown = set(scene["objects"]) | set(scene["clutter"])
    present = rng.choice(sorted(shown - set(scene["hidden"])))  # a covered object is not asked about
    kind = rng.choice(["random", "popular", "adversarial"])
    counts, cooccur = defaultdict(int), defaultdict(int)
    for event in plan["events"]:
        for obj in event["objects"]:
            counts[obj] += 1
            if present in event["objects"]:
                cooccur[obj] += 1
    absent_pool = sorted(set(OBJECTS) - shown)
    if kind == "popular":
        absent_pool = sorted(absent_pool, key=lambda o: (-counts[o], o))[:5]
    elif kind == "adversarial":
        ranked = sorted((o for o in absent_pool if cooccur[o]), key=lambda o: (-cooccur[o], o))[:5]
        absent_pool = ranked or absent_pool
    return {"present": present, "absent": (kind, rng.choice(absent_pool))}


class _Serial:
    """A stand-in for a process pool when one worker is asked for."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    @staticmethod
    def imap(fn, jobs, chunksize=1):
        return map(fn, jobs)


def _shard_path(key):
    return f"data/{key[0]}/{'-'.join(key[1:])}.parquet"


def _write_shards(root, shards, plan):
    """Write every shard and the people/events tables; returns (key -> relative path, path -> rows).

    pyarrow directly (with the `datasets` features in the schema metadata, so images decode to PIL):
    `Dataset.from_list` would pickle each table to fingerprint it, which cost 3x the rendering.
    """
    files, sizes = {}, {}
    for key in sorted(shards):
        rows = sorted(shards[key], key=lambda r: r["id"])
        files[key] = _shard_path(key)
        sizes[files[key]] = _write_table(root, files[key], rows, schema.QA_FEATURES)
    for name, rows in (("people", _people_table(plan)), ("events", _events_table(plan))):
        files[(name,)] = f"data/meta/{name}.parquet"
        sizes[files[(name,)]] = _write_table(root, files[(name,)], rows, None)
    return files, sizes


def _write_table(root, rel, rows, features):
    """Write one parquet table; returns its row count (the card's split sizes)."""
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    if features is None:
        features = datasets.Dataset.from_list(rows[:1]).features
    table = pa.Table.from_pylist([features.encode_example(r) for r in rows], schema=features.arrow_schema)
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return table.num_rows


def _people_table(plan):
    return [{"id": p["id"], "name": p["name"], "gender": p["gender"], "age": p["age"], "job": p["job"],
             "job_category": p["job_category"], "city": p["city"], "country": p["country"], "region": p["region"],
             "appearance": p["appearance"], "attributes": json.dumps(p["attributes"], sort_keys=True),
             "group": plan["pg"][p["id"]], "holdout": plan["pg"][p["id"]] == "hold"} for p in plan["people"]]


def _events_table(plan):
    return [{"id": e["id"], "name": e["name"], "description": e["description"], "paraphrase": e["paraphrase"],
             "keywords": e["keywords"],
             "objects": e["objects"], "setting": e["tags"], "pose": e["pose"], "group": plan["eg"][e["id"]]}
            for e in plan["events"]]


def _configs(keys):
    """Config -> split -> shard keys, for every config in `pebench.schema.CONFIGS`."""
    configs = {c: forget_splits(c, keys) for c in schema.FORGET_CONFIGS}
    configs.update(other_splits(keys))
    configs["people"] = {"train": [("people",)]}
    configs["events"] = {"train": [("events",)]}
    for config, splits in configs.items():
        for split, chosen in splits.items():
            splits[split] = [k for k in chosen if k in keys or k in (("people",), ("events",))]
            if not splits[split]:
                raise UserError(f"too few people or events: split {config}/{split} would be empty")
    return configs


def _metadata(root, plan, people, events, holdout, variants, size, seed, renderer, configs, files):
    targets = {}
    for config in schema.FORGET_CONFIGS:
        fp, fe = config_targets(config)
        targets[config] = {
            "forget_people": sorted(p for p, g in plan["pg"].items() if g in fp),
            "forget_events": sorted(e for e, g in plan["eg"].items() if g in fe)}
    return {
        "generator_version": GENERATOR_VERSION, "schema_version": schema.SCHEMA_VERSION, "seed": seed,
        "people": people, "events": events, "holdout": holdout, "variants": variants, "image_size": size,
        "renderer": renderer, "min_identity_distance": pairwise_min_distance(plan["people"]),
        "targets": targets, "fingerprint": fingerprint_files(root, sorted(set(files.values()))),
    }
