"""Fictitious people: a unique name, a profile (age, gender, job, birthplace) and a visual identity.

Identities are drawn greedily so that any two people differ in at least `MIN_DISTANCE` of the visual
attributes, and in at least `MIN_SALIENT_DISTANCE` of the `SALIENT` ones, when the attribute space allows
it (the achieved minimum is returned and recorded). Why the second rule: eye colour and face shape cover
a pixel or two at 64 px, so two people told apart only by them are not recognisable from the picture.
"""
import random

from data_builders.catalogue import ATTRIBUTES, JOBS, NON_EMPLOYED, REGIONS, STUDENTS
from data_builders.events import article
from pebench.errors import UserError

MIN_DISTANCE = 3
MIN_SALIENT_DISTANCE = 2
SALIENT = ("skin", "hair_colour", "hair_style", "accessory", "shirt_colour")  # large areas of the figure


def name_capacity():
    """How many distinct full names the pools can give (first names x last names, summed over regions)."""
    return sum((len(r["male"]) + len(r["female"])) * len(r["last"]) for r in REGIONS.values())


def make_people(count, rng):
    """`count` people with unique names and distinct visual identities, deterministic for `rng`."""
    if count > name_capacity():
        raise UserError(f"{count} people asked for but the name pool allows at most {name_capacity()}")
    identities, min_distance = _identities(count, rng)
    used, people = set(), []
    for index in range(count):
        region = rng.choice(sorted(REGIONS))
        pool = REGIONS[region]
        city, country = rng.choice(pool["cities"])
        gender = rng.choice(["male", "female"])
        name = _unique_name(pool, gender, used, rng)
        job, category, age = _job_and_age(rng)
        attributes = identities[index]
        people.append({
            "id": f"p{index:03d}", "name": name, "gender": gender, "age": age, "job": job,
            "job_category": category, "city": city, "country": country, "region": region,
            "attributes": attributes, "appearance": appearance(attributes),
        })
    return people, min_distance


def _unique_name(pool, gender, used, rng):
    options = [f"{first} {last}" for first in pool[gender] for last in pool["last"]]
    free = [n for n in options if n not in used]
    if not free:  # this region and gender are exhausted: any free name keeps names unique
        free = sorted({f"{f} {l}" for r in REGIONS.values() for f in r["male"] + r["female"] for l in r["last"]}
                      - used)
    name = rng.choice(free)
    used.add(name)
    return name


def decoy_names(people, person, rng, count=3):
    """`count` full names of the person's region and gender that nobody in the release has.

    The truth ratio's wrong answers: a model never trained on `person` (the goal model) knows these names
    no better than the true one, so it shows no preference, while names of other people of the release
    would be preferred simply because it learnt them.
    """
    used = {p["name"] for p in people}
    pool = REGIONS[person["region"]]
    free = sorted({f"{first} {last}" for first in pool[person["gender"]] for last in pool["last"]} - used)
    if len(free) < count:
        free = sorted({f"{f} {l}" for r in REGIONS.values() for f in r["male"] + r["female"] for l in r["last"]}
                      - used)
    return rng.sample(free, count)


def _job_and_age(rng):
    kind = rng.random()
    if kind < 0.75:
        category = rng.choice(sorted(JOBS))
        return rng.choice(JOBS[category]), category, rng.randint(23, 64)
    table, category = (NON_EMPLOYED, "Not employed") if kind < 0.9 else (STUDENTS, "Student")
    job = rng.choice(sorted(table))
    return job, category, rng.randint(*table[job])


def _identities(count, rng):
    """Greedy draw of attribute dicts whose pairwise distances are as large as the space allows.

    A candidate is checked against every chosen one at once (numpy): 1,000 looks (`--describe-people`'s
    pool) took ~45 s one pair at a time. Same draws, same decisions, same people.
    """
    import numpy as np

    keys = list(ATTRIBUTES)
    salient = [keys.index(k) for k in SALIENT]
    for min_distance in range(MIN_DISTANCE, 0, -1):
        min_salient = min(MIN_SALIENT_DISTANCE, min_distance)
        chosen, size = np.empty((count, len(keys)), dtype=np.int64), 0
        for _ in range(count * 200):
            candidate = [rng.randrange(len(ATTRIBUTES[k])) for k in keys]
            differs = chosen[:size] != candidate
            if ((differs.sum(1) >= min_distance) & (differs[:, salient].sum(1) >= min_salient)).all():
                chosen[size], size = candidate, size + 1
                if size == count:
                    return [{k: ATTRIBUTES[k][i] for k, i in zip(keys, c)} for c in chosen.tolist()], min_distance
    raise UserError(f"cannot draw {count} distinct visual identities from the attribute catalogue")


def appearance(attributes):
    """The sentence that describes exactly the drawn visual attributes."""
    a = attributes
    hair = f"{a['hair_style']} {a['hair_colour']} hair"
    wearing = article(f"{a['shirt_colour']} shirt")
    if a["accessory"] != "no accessory":
        wearing = f"{a['accessory']} and {wearing}"
    return (f"A person with {article(a['face_shape'] + ' face')}, {a['skin']} skin, {hair} and {a['eye_colour']} eyes, "
            f"wearing {wearing}.")


def pairwise_min_distance(people, keys=tuple(ATTRIBUTES)):
    """Smallest number of differing attributes (of `keys`) between any two people (distinctness report)."""
    tuples = [tuple(p["attributes"][k] for k in keys) for p in people]
    return min((sum(x != y for x, y in zip(a, b)) for i, a in enumerate(tuples) for b in tuples[i + 1:]),
               default=len(keys))


def seeded(seed, *parts):
    """A `random.Random` seeded by the run seed and any labels (stable across processes and runs)."""
    return random.Random(":".join(str(p) for p in (seed, *parts)))
