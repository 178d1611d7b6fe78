"""Who is forgotten where: nested forget groups, per-pair folds, and which shards make each config's split.

Rows are stored once, in shards keyed by (task family, person group, event group, fold, visibility); a
config's split is a union of shards, so no row is written twice however many configs there are.
"""
from pebench.schema import FORGET_CONFIGS, splits_of

PERSON_GROUPS = ("f01", "f05", "f10", "rest", "hold")  # nested ranks: f01 ⊂ forget05 = f01+f05 ⊂ ...
EVENT_GROUPS = ("f05", "f10", "f20", "rest")
PERSON_LEVELS = {1: ("f01",), 5: ("f01", "f05"), 10: ("f01", "f05", "f10")}
EVENT_LEVELS = {5: ("f05",), 10: ("f05", "f10"), 20: ("f05", "f10", "f20")}
HELD_OUT_SHARE = 0.2  # PEBench generality: the targets' seen images held out from unlearning
RETAIN_TEST_PAIRS = 150
WORLD_PAIRS = 150


def nested_groups(ids, levels, rest):
    """Map each id (in seeded order) to its group: the first 1/5/10 % ... each at least one id."""
    counts, n = [], len(ids)
    for percent in levels:
        counts.append(max(counts[-1] if counts else 1, round(n * percent / 100), 1))
    names = [f"f{p:02d}" for p in levels]
    groups, start = {}, 0
    for name, end in zip(names, counts):
        for i in ids[start:end]:
            groups[i] = name
        start = max(start, end)
    for i in ids[start:]:
        groups[i] = rest
    return groups


def assign(people_ids, event_ids, holdout_ids, rng):
    """Person/event groups, the fold of every pair, and the pairs used for retain_test and world rows."""
    order_p = rng.sample(people_ids, len(people_ids))
    order_e = rng.sample(event_ids, len(event_ids))
    pg = nested_groups(order_p, (1, 5, 10), "rest")
    pg.update({h: "hold" for h in holdout_ids})
    eg = nested_groups(order_e, (5, 10, 20), "rest")
    rank_p = {p: i for i, p in enumerate(order_p)}
    rank_e = {e: i for i, e in enumerate(order_e)}
    k = max(2, min(round(1 / HELD_OUT_SHARE), len(order_p), len(order_e)))
    fold = {(p, e): "test" if (rank_p[p] + rank_e[e]) % k == 0 else "train" for p in order_p for e in order_e}
    always_retain = [pair for pair in sorted(fold) if pg[pair[0]] == "rest" and eg[pair[1]] == "rest"]
    tests = [pair for pair in always_retain if fold[pair] == "test"]
    for pair in rng.sample(tests, min(RETAIN_TEST_PAIRS, len(tests))):
        fold[pair] = "probe"
    trains = [pair for pair in always_retain if fold[pair] == "train"]
    world = sorted(rng.sample(trains, min(WORLD_PAIRS, len(trains))))
    for h in holdout_ids:
        for e in event_ids:
            fold[(h, e)] = "all"
    return pg, eg, fold, world


def config_targets(config):
    """(forget person groups, forget event groups) of a forget config."""
    target, percent = FORGET_CONFIGS[config]
    if target == "person":
        return PERSON_LEVELS[percent], ()
    if target == "event":
        return (), EVENT_LEVELS[percent]
    return PERSON_LEVELS[percent], EVENT_LEVELS[percent]


def forget_splits(config, shards):
    """Split name -> shard keys for one forget config. Shard keys: (family, pg, eg, fold, vis) tuples."""
    fp, fe = config_targets(config)

    def forgotten(key):
        family, p, e = key[:3]
        return (family == "name" and p in fp) or (family == "desc" and e in fe)

    def shows_target(key):
        return key[1] in fp or key[2] in fe

    qa = [k for k in shards if k[0] in ("name", "desc") and k[1] != "hold"]
    splits = {
        "forget_train": [k for k in qa if forgotten(k) and k[3] == "train" and k[4] == "seen"],
        "forget_test": [k for k in qa if forgotten(k) and k[3] == "test" and k[4] == "seen"],
        "forget_unseen": [k for k in qa if forgotten(k) and k[4] == "unseen"],
        "scope": [k for k in qa if not forgotten(k) and shows_target(k) and k[4] == "seen"],
        "retain_train": [k for k in qa if not shows_target(k) and k[4] == "seen"]
        + [k for k in shards if k[0] == "profile" and k[1] not in (*fp, "hold")] + [("world", "train")],
        "retain_test": [k for k in qa if k[3] == "probe" and k[4] == "seen"],
    }
    if "forget_profile" in splits_of(config):  # the schema's rule: not for event targets
        splits["forget_profile"] = [k for k in shards if k[0] == "profile" and k[1] in fp]
    return splits


def other_splits(shards):
    """Splits of the `full`, `world` and `holdout` configs."""
    qa = [k for k in shards if k[0] in ("name", "desc")]
    return {
        "full": {"train": [k for k in qa if k[1] != "hold" and k[4] == "seen"]
                 + [k for k in shards if k[0] == "profile" and k[1] != "hold"] + [("world", "train")],
                 "test": [k for k in qa if k[1] != "hold" and k[4] == "unseen"]},
        "world": {"test": [("world", "test")]},
        "holdout": {"test": [k for k in qa if k[1] == "hold"] + [k for k in shards if k == ("profile", "hold")]},
    }
