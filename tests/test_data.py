"""Dataset builder: determinism, no leakage, nesting, truthful text, loading, and bad input."""
import hashlib
import random
from pathlib import Path

import datasets
import pytest
from PIL import Image

import data_builders
from data_builders.catalogue import ATTRIBUTES, EVENTS
from data_builders.events import make_events
from data_builders.people import SALIENT, make_people, pairwise_min_distance
from data_builders.renderers import RENDERERS
from data_builders.splits import nested_groups
from pebench import schema
from pebench.cli import main


def load(path, config, split):
    return datasets.load_dataset(str(path), config, split=split)


def parquet_digest(path):
    files = sorted(Path(path).rglob("*.parquet"))
    return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest(), len(files)


def test_same_seed_gives_identical_bytes_and_other_seed_other_people(tmp_path, small_data):
    from tests.conftest import SMALL

    again = data_builders.build(tmp_path / "again", **SMALL)
    assert parquet_digest(again) == parquet_digest(small_data)
    assert data_builders.read_metadata(again)["fingerprint"] == data_builders.read_metadata(small_data)["fingerprint"]
    other = data_builders.build(tmp_path / "other", **{**SMALL, "seed": 1})
    names = lambda p: set(load(p, "people", "train")["name"])  # noqa: E731
    assert names(other) != names(small_data)
    assert data_builders.read_metadata(other)["fingerprint"] != data_builders.read_metadata(small_data)["fingerprint"]


@pytest.mark.parametrize("config", list(schema.FORGET_CONFIGS))
def test_no_leakage_and_every_target_in_every_forget_split(small_data, config):
    meta = data_builders.read_metadata(small_data)
    people = set(meta["targets"][config]["forget_people"])
    events = set(meta["targets"][config]["forget_events"])
    holdout = {r["id"] for r in load(small_data, "people", "train") if r["holdout"]}
    splits = datasets.load_dataset(str(small_data), config)
    for split in ("retain_train", "retain_test"):
        rows = splits[split]
        assert not people & set(rows["person_id"]), f"forget person in {split}"
        assert not events & set(rows["event_id"]), f"forget event in {split}"
        assert not holdout & set(rows["person_id"])
    for split in ("forget_train", "retain_train"):
        assert set(splits[split]["variant"]) <= {0, -1}, f"unseen rendering in {split}"
    for split in ("forget_train", "forget_test", "forget_unseen"):
        rows = splits[split]
        covered = {(r["person_id"] if r["task"] == schema.PERSON_NAME else r["event_id"]) for r in rows}
        assert people | events <= covered, f"a target has no rows in {split}"
    assert not set(splits["forget_train"]["id"]) & set(splits["forget_test"]["id"])
    assert set(splits["forget_unseen"]["variant"]) == {1}


def test_full_train_never_holds_unseen_renderings_or_holdout_people(small_data):
    train = load(small_data, "full", "train")
    holdout = {r["id"] for r in load(small_data, "people", "train") if r["holdout"]}
    assert set(train["variant"]) <= {0, -1} and not holdout & set(train["person_id"])
    assert set(load(small_data, "full", "test")["variant"]) == {1}
    assert set(load(small_data, "holdout", "test")["person_id"]) == holdout


def test_forget_groups_nest_and_never_empty():
    ids = [f"p{i:03d}" for i in range(200)]
    groups = nested_groups(ids, (1, 5, 10), "rest")
    sizes = {g: sum(v == g for v in groups.values()) for g in ("f01", "f05", "f10")}
    assert sizes == {"f01": 2, "f05": 8, "f10": 10}
    assert ids[:2] == [i for i in ids if groups[i] == "f01"]
    tiny = nested_groups(ids[:3], (1, 5, 10), "rest")
    assert list(tiny.values()).count("f01") == 1


def test_identities_are_unique_and_distinct_at_full_size():
    people, min_distance = make_people(220, random.Random(0))
    tuples = {tuple(p["attributes"][k] for k in ATTRIBUTES) for p in people}
    assert len(tuples) == 220 and len({p["name"] for p in people}) == 220
    assert min_distance >= 3 and pairwise_min_distance(people) >= 3
    assert pairwise_min_distance(people, SALIENT) >= 2  # told apart by what is large in the picture


def test_appearance_sentence_names_every_drawn_attribute():
    for person in make_people(30, random.Random(1))[0]:
        for key, value in person["attributes"].items():
            if value != "no accessory":
                assert value in person["appearance"], (key, value)


def test_appearance_sentence_uses_the_right_article():
    import re

    from data_builders.people import appearance

    first = {key: values[0] for key, values in ATTRIBUTES.items()}
    for key in ("face_shape", "shirt_colour"):
        for value in ATTRIBUTES[key]:
            sentence = appearance({**first, key: value})
            assert not re.search(r"\ba [aeiou]", sentence), sentence
    assert "an orange shirt" in appearance({**first, "shirt_colour": "orange"})
    assert "an oval face" in appearance({**first, "face_shape": "oval"})


def test_event_keywords_and_objects_are_what_the_renderer_draws():
    render = RENDERERS.get("procedural")
    person = make_people(1, random.Random(0))[0][0]
    for event in make_events(len(EVENTS), random.Random(0)):
        assert len(event["keywords"]) == 10 and len(set(event["keywords"])) == 10
        image, scene = render(person, event, 1, 64, 0)
        drawn = set(scene["objects"]) | set(scene["tags"]) | {scene["pose"]}
        assert set(event["keywords"]) <= drawn
        assert all(word in event["description"] for word in event["keywords"])
        assert image.size == (64, 64)


def test_variants_differ_but_identity_is_fixed():
    render = RENDERERS.get("procedural")
    person = make_people(1, random.Random(0))[0][0]
    event = make_events(1, random.Random(0))[0]
    a, scene_a = render(person, event, 0, 64, 0)
    b, scene_b = render(person, event, 1, 64, 0)
    assert a.tobytes() != b.tobytes() and scene_a["objects"] == scene_b["objects"]
    assert render(person, event, 0, 64, 0)[0].tobytes() == a.tobytes()


def test_every_object_is_drawn_its_own_way():
    from data_builders.catalogue import OBJECTS
    from data_builders.renderers.procedural import STYLES

    assert len(set(STYLES.values())) == len(STYLES) == len(OBJECTS)  # a twin could never be told apart


def test_covered_objects_are_recorded_and_never_asked_about():
    """The visibility map agrees with the pixels: a hidden object's own colour is (mostly) not in view."""
    import numpy as np

    from data_builders.build import _pope_negatives
    from data_builders.renderers.procedural import STYLES

    render = RENDERERS.get("procedural")
    people = make_people(20, random.Random(0))[0]
    events = make_events(len(EVENTS), random.Random(0))
    hidden = visible = 0
    for person in people:
        for event in events[:10]:
            image, scene, layout = render(person, event, 0, 64, 0, layout=True)
            names = [*scene["objects"], *scene["clutter"]]
            owned = np.bincount(np.asarray(layout).ravel(), minlength=len(names) + 1)
            for k, name in enumerate(names, 1):
                if name in scene["hidden"]:
                    hidden += 1
                else:
                    visible += 1
                    assert owned[k] > 0, name
            negatives = _pope_negatives(scene, {"events": events}, random.Random(1))
            assert negatives["present"] not in scene["hidden"] and negatives["absent"][1] not in names
    assert hidden > 0 and visible > 10 * hidden  # a few are covered by the person, most are in view
    # a scene with every object but one covered asks about that one
    scene = {"objects": ["ball", "dog", "tree"], "clutter": [], "hidden": ["ball", "dog"]}
    assert {_pope_negatives(scene, {"events": events}, random.Random(s))["present"] for s in range(20)} == {"tree"}
    assert STYLES["tree"] != STYLES["ball"]


def test_patch_labels_name_the_object_covering_a_quarter_of_a_patch():
    import numpy as np

    from data_builders.pretrain import patch_labels

    objects = np.zeros((16, 16), dtype=np.int16)
    objects[0:4, 0:4] = 7     # a quarter of patch 0 (8 x 8): labelled
    objects[0:3, 8:13] = 5    # 15 of 64 pixels of patch 1: too little
    objects[8:16, 0:8] = 2    # all of patch 2 (row-major: second row, first column)
    objects[8:10, 8:16] = 3   # patch 3: 16 pixels of 3 and 20 of 4 -> 4
    objects[10:13, 8:15] = 4
    assert patch_labels(objects, 2).tolist() == [7, 0, 2, 4]  # a 2 x 2 grid of 8 x 8 patches


def test_world_questions_are_balanced_and_true_to_the_scene(small_data):
    world = load(small_data, "world", "test")
    answers = world["answer"]
    assert answers.count("Yes.") == answers.count("No.") > 0
    assert set(world["negative_kind"]) <= {"", "random", "popular", "adversarial"}
    assert {k for k, a in zip(world["negative_kind"], answers) if a == "No."} - {""}


def test_perturbed_answers_are_wrong_versions_of_the_paraphrase(small_data):
    """TOFU's truth ratio compares the paraphrase with wrong answers in *its* template: every perturbed
    answer shares the paraphrase's words except the ones that carry the fact."""
    import re

    rows = [r for config, split in (("full", "train"), ("world", "test")) for r in load(small_data, config, split)]
    checked = set()
    for row in rows:
        para, wrong = row["answer_paraphrase"], row["perturbed_answers"]
        if not wrong:
            continue
        assert para not in wrong and len(set(wrong)) == len(wrong), row["id"]
        words = set(re.findall(r"[a-z]+", para.lower()))
        for answer in wrong:
            other = set(re.findall(r"[a-z]+", answer.lower()))
            shared = len(words & other) / max(len(words), len(other))
            assert shared >= 0.3, (row["id"], para, answer)  # the template, not another sentence shape
        if row["task"] != "world_object":  # there the fact is the first word ("Yes, there is." / "No, ...")
            assert all(w.split()[:3] == para.split()[:3] for w in wrong), (row["id"], para, wrong)
        checked.add(row["task"])
    assert checked == {"person_name", "event_description", "profile_job", "profile_birthplace", "profile_age",
                       "world_object"}


def test_a_release_rebuilt_in_the_same_folder_is_read_afresh(tmp_path):
    """`datasets` keys a local folder's cache by its card and paths: the reader keys it by the fingerprint."""
    from pebench.data import load_rows

    folder = tmp_path / "release"
    names = []
    for seed in (0, 1):
        data_builders.build(folder, people=4, events=3, seed=seed, overwrite=True)
        names.append(sorted(r["name"] for r in load_rows(folder, "people", "train")))
    assert names[0] != names[1]


def test_rows_load_offline_with_images_as_pil(small_data):
    row = load(small_data, "person_forget05", "forget_train")[0]
    assert isinstance(row["image"], Image.Image) and row["answer"] == f"This is {row['person_name']}."
    assert row["id"].startswith("person_name/") and len(row["perturbed_answers"]) == 3
    profile = load(small_data, "person_forget05", "forget_profile")
    assert profile[0]["image"] is None and set(profile["task"]) == set(schema.PROFILE_TASKS)


@pytest.mark.parametrize("argv, message", [
    (["--people", "5000"], "name pool"),
    (["--events", "41"], "catalogue"),
    (["--people", "-3"], "people must be"),
    (["--image-size", "8"], "image size"),
])
def test_bad_sizes_exit_2_with_one_line_and_no_folder(tmp_path, capsys, argv, message):
    out = tmp_path / "ds"
    assert main(["build", "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_existing_folder_and_unwritable_path_are_refused(tmp_path, capsys):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep").write_text("x")
    assert main(["build", "--out", str(tmp_path / "full"), "--people", "4", "--events", "3"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["build", "--out", str(tmp_path / "file" / "ds"), "--people", "4", "--events", "3"]) == 2
    assert "cannot create" in capsys.readouterr().err
    assert (tmp_path / "full" / "keep").exists()


def test_dataset_card_is_identical_across_processes(tmp_path, small_data):
    """Shard order in the card must not depend on Python's per-process hash seed."""
    import os
    import subprocess
    import sys

    from tests.conftest import SMALL

    code = (f"import data_builders; data_builders.build({str(tmp_path / 'again')!r}, people={SMALL['people']}, "
            f"events={SMALL['events']}, variants={SMALL['variants']}, image_size={SMALL['image_size']}, seed=0)")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONHASHSEED": "123"})
    assert (tmp_path / "again" / "README.md").read_bytes() == (small_data / "README.md").read_bytes()
