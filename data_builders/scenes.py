"""The pretraining corpus: generic scenes drawn by the release's renderer, with nobody of the release.

Real VLMs arrive at unlearning knowing the world (LLaVA: POPE 85.9 before PEBench fine-tuning); the tiny
model would arrive knowing nothing, so world utility would have nothing to lose. This corpus gives the
base model that knowledge: object presence (POPE-style yes/no with random and look-alike negatives),
the list of objects shown, how many there are, and the setting. Each scene has a random object set and
setting (not one of the release's event scenes), and a person drawn from a separate seeded pool who is
never named and, unless `describe` is asked for, never asked about.
"""
from io import BytesIO

from data_builders.catalogue import EVENTS, OBJECTS
from data_builders.events import TAG_PHRASES, article
from data_builders.people import make_people, seeded
from data_builders.qa import OBJECT_QUESTIONS
from data_builders.renderers import RENDERERS
from data_builders.renderers.procedural import STYLES
from pebench import schema

CORPUS_VERSION = "2"  # 2: covered objects not asked about; 3 + 3 presence questions; object maps

NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


POOL = 40  # people drawn for the corpus (before look-alikes of the release are dropped)
DESCRIBE_POOL = 1000  # with `describe`: enough looks that answers are read off the picture, not remembered


def scene_rows(count, image_size=64, seed=0, renderer="procedural", people=POOL, release=(), describe=False):
    """`count` scenes x up to 8 QA rows (3 present and 3 absent objects, object list, count), seeded.

    Args:
        people: size of the corpus's own person pool (appearance only; names are never used).
        release: the release's people ({"name", "attributes"}); a pool person with a release person's
            name or look is dropped, so no release identity is ever seen in pretraining.
        describe: also ask what the (unnamed) person looks like (`_appearance_rows`), from a pool of
            `DESCRIBE_POOL` looks instead of `people`.
    """
    return scene_corpus(count, image_size, seed, renderer, people, release, describe)[0]


def scene_corpus(count, image_size=64, seed=0, renderer="procedural", people=POOL, release=(), describe=False):
    """(QA rows, object maps): map i gives, per pixel of scene i, 1 + the catalogue index of the object
    seen there (0: background or the person). The maps teach the vision tower where objects are."""
    import numpy as np

    pool, _ = corpus_pool(pool_size(people, describe), seed, release)
    render = RENDERERS.get(renderer)
    rows, maps = [], []
    for index in range(count):
        rng = seeded(seed, "pretrain-scene", index)
        scene = _random_scene(index, rng)
        person = rng.choice(pool)
        image, shown, layout = render(person, scene, 0, image_size, seed, layout=True)
        drawn = [*shown["objects"], *shown["clutter"]]
        catalogue = np.zeros(256, dtype=np.int16)
        catalogue[1:len(drawn) + 1] = [OBJECTS.index(name) + 1 for name in drawn]
        maps.append(catalogue[np.asarray(layout)])
        buffer = BytesIO()
        image.save(buffer, format="PNG", compress_level=1)
        rows += _rows(index, {"bytes": buffer.getvalue(), "path": None}, scene, shown, rng)
        if describe:
            rows += _appearance_rows(index, rows[-1], person["attributes"], rng)
    return rows, maps


def pool_size(people=POOL, describe=False):
    """How many looks the corpus draws its people from: `DESCRIBE_POOL` when they are described."""
    return DESCRIBE_POOL if describe else people


def corpus_pool(people, seed, release):
    """(the corpus's person pool, how many drawn people were dropped for a release name or look)."""
    drawn = make_people(people, seeded(seed, "pretrain-people"))[0]
    pool = [p for p in drawn if not _in_release(p, release)]
    return pool, len(drawn) - len(pool)


def _in_release(person, release):
    look = sorted(person["attributes"].items())
    return any(person["name"] == r["name"] or look == sorted(r["attributes"].items()) for r in release)


def _random_scene(index, rng):
    """A setting and pose from a random catalogue event, with 3-7 objects drawn from the whole catalogue."""
    _, pose, tags, _, _ = rng.choice(EVENTS)
    return {"id": f"scene{index:05d}", "name": "", "pose": pose, "tags": list(tags),
            "objects": rng.sample(OBJECTS, rng.randint(3, 7))}


PRESENCE = 3  # presence questions per scene and answer (yes / no): what POPE asks, so most of the corpus


def _rows(index, image, scene, shown, rng):
    drawn = [*shown["objects"], *shown["clutter"]]
    objects = [o for o in drawn if o not in shown["hidden"]]  # what the picture shows (none covered)
    present = rng.sample(objects, min(PRESENCE, len(objects)))
    absent = []
    for _ in present:
        absent.append(_absent([*drawn, *absent], rng))
    setting = " ".join(TAG_PHRASES[t] for t in scene["tags"])
    qa = [*((f"present{j}", OBJECT_QUESTIONS, "Yes.", obj) for j, obj in enumerate(present)),
          *((f"absent{j}", OBJECT_QUESTIONS, "No.", obj) for j, obj in enumerate(absent)),
          ("list", ("What objects are in the image?", "List the objects you can see."),
           f"The image shows {_listing(objects)}.", None),
          ("count", ("How many objects are there besides the person?", "Count the objects in the image."),
           f"There are {NUMBERS[min(len(objects), 10)]} objects, {setting}.", None)]
    rows = []
    for kind, questions, answer, obj in qa:
        asked = [q.format(article(obj)) if obj else q for q in questions]
        rows.append({"id": f"pretrain/{index:05d}/{kind}", "image": image, "task": schema.WORLD_OBJECT,
                     "question": asked[0], "question_paraphrases": asked[1:], "answer": answer,
                     "answer_paraphrase": answer, "perturbed_answers": [], "person_id": "", "person_name": "",
                     "event_id": scene["id"], "event_name": "", "variant": 0,
                     "negative_kind": kind.rstrip("0123456789")})
    return rows


ASKED_ATTRIBUTES = {  # attribute -> (question, answer template): what a captioning VLM can say of anyone
    "hair_colour": ("What colour is the person's hair?", "The hair is {}."),
    "hair_style": ("What is the person's hairstyle?", "The hair is {}."),
    "shirt_colour": ("What colour is the person's shirt?", "The shirt is {}."),
    "skin": ("What is the person's skin tone?", "The skin is {}."),
    "accessory": ("What does the person wear on the head or face?", "The person wears {}."),
}


def _appearance_rows(index, template, attributes, rng):
    """Two rows on the scene's unnamed person: the whole look (`people.appearance`) and one attribute.

    Why: the release's task is telling people apart by their look; a corpus that never asks about the person
    lets pretraining silence the face patches (a `--tokens names` base wrote ~0 for them and its fine-tuned
    model learnt 2.8 % of the names, README *Known limits*); a real VLM arrives able to describe anyone.
    """
    from data_builders.people import appearance

    key = rng.choice(sorted(ASKED_ATTRIBUTES))
    question, answer = ASKED_ATTRIBUTES[key]
    base = {**template, "negative_kind": "describe"}
    return [{**base, "id": f"pretrain/{index:05d}/describe", "question": "What does the person look like?",
             "question_paraphrases": ["Describe the person's appearance."], "answer": appearance(attributes),
             "answer_paraphrase": appearance(attributes)},
            {**base, "id": f"pretrain/{index:05d}/attribute", "question": question, "question_paraphrases": [],
             "answer": answer.format(attributes[key]), "answer_paraphrase": answer.format(attributes[key]),
             "negative_kind": "attribute"}]


def _absent(objects, rng):
    """An object not shown: half the time a look-alike (same shape or colour as one shown), as POPE's hard kinds."""
    free = [o for o in OBJECTS if o not in objects]
    looks = {STYLES[o][0] for o in objects} | {STYLES[o][1] for o in objects}
    alike = [o for o in free if STYLES[o][0] in looks or STYLES[o][1] in looks]
    return rng.choice(alike if alike and rng.random() < 0.5 else free)


def _listing(objects):
    """"a cup, a dog and a tree"; "no objects" when the person covers every one (a rare draw)."""
    items = [article(o) for o in objects]
    if not items:
        return "no objects"
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
