"""Event records: id, name, description, 10 keywords and the objects drawn, from the catalogue."""
from data_builders.catalogue import EVENTS
from pebench.errors import UserError

TAG_PHRASES = {
    "indoors": "indoors", "outdoors": "outdoors", "lights": "under bright lights", "floor": "on a wooden floor",
    "grass": "on green grass", "daytime": "in the daytime", "night": "at night", "sand": "on the sand",
    "water": "by the water", "snow": "in the snow", "road": "near a road", "mountains": "with mountains behind",
    "window": "next to a window",
}


def article(noun):
    """'a'/'an'/'some' so generated sentences read naturally."""
    if noun.endswith("s") and not noun.endswith("ss") or noun in ("firewood",):
        return f"some {noun}"
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def _listing(nouns, with_article=True):
    words = [article(n) if with_article else n for n in nouns]
    return ", ".join(words[:-1]) + " and " + words[-1]


def make_events(count, rng):
    """`count` events taken from the catalogue in a seeded order (ids e00, e01, ...)."""
    if count > len(EVENTS):
        raise UserError(f"{count} events asked for but the catalogue has {len(EVENTS)}")
    order = rng.sample(range(len(EVENTS)), count)
    events = []
    for index, k in enumerate(order):
        name, pose, tags, objects, gist = EVENTS[k]
        setting = " ".join(TAG_PHRASES[t] for t in tags)
        events.append({
            "id": f"e{index:02d}", "name": name, "pose": pose, "tags": list(tags), "objects": list(objects),
            "gist": gist, "keywords": [*objects, *tags, pose],
            "description": f"A person {gist}, {pose} {setting}. The scene shows {_listing(objects)}.",
            "paraphrase": paraphrase(gist, pose, tags, objects),
        })
    return events


def paraphrase(gist, pose, tags, objects):
    """The description's paraphrase (truth ratio's right answer); other `objects` make a wrong version."""
    setting = " ".join(TAG_PHRASES[t] for t in tags)
    return (f"In this picture someone {gist}. Visible are the {_listing(objects, False)}; "
            f"the person is {pose} {setting}.")


def wrong_paraphrases(event, rng, count=3):
    """`count` versions of the event's paraphrase with its objects swapped for objects it does not show.

    TOFU's perturbed answers are wrong versions of the paraphrased answer: same sentence, wrong facts.
    """
    from data_builders.catalogue import OBJECTS

    absent = [o for o in OBJECTS if o not in event["objects"]]
    return [paraphrase(event["gist"], event["pose"], event["tags"], rng.sample(absent, len(event["objects"])))
            for _ in range(count)]
