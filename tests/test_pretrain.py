"""`pebench pretrain`: a base with scene knowledge and no person of the release, checked where it is used."""
import json
import shutil

import pytest

from pebench.cli import main

QUICK = ["--model", "tiny", "--scenes", "24", "--epochs", "1"]


@pytest.fixture(scope="module")
def base(small_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("base") / "base"
    assert main(["pretrain", "--data", str(small_data), "--out", str(out), *QUICK]) == 0
    return out


def test_the_corpus_has_nobody_of_the_release(small_data):
    from data_builders.scenes import scene_rows
    from pebench import data

    people = data.load_split(small_data, "people", "train")
    release = [{"name": n, "attributes": json.loads(a)} for n, a in zip(people["name"], people["attributes"])]
    rows = scene_rows(30, 32, seed=0, release=release)
    assert 30 * 6 <= len(rows) <= 30 * 8 and not any(r["person_name"] or r["person_id"] for r in rows)
    text = " ".join(t for r in rows for t in (r["question"], r["answer"], *r["question_paraphrases"]))
    assert not any(name in text for name in people["name"])
    # a release look-alike is dropped from the pool: pass the pool itself as the "release"
    from data_builders.people import make_people, seeded

    pool = make_people(40, seeded(0, "pretrain-people"))[0]
    with pytest.raises(IndexError):  # nobody left to draw
        scene_rows(1, 32, seed=0, release=pool)
    kinds = [r["negative_kind"] for r in rows]
    assert kinds.count("present") == kinds.count("absent") >= 60  # balanced yes/no presence questions
    assert kinds.count("list") == kinds.count("count") == 30
    assert {r["answer"] for r in rows if r["negative_kind"] == "absent"} == {"No."}


def test_a_base_records_its_id_and_fingerprint_and_is_the_same_bytes_twice(base, small_data, tmp_path):
    from pebench.training import PRETRAIN_CARD, weights_fingerprint

    card = json.loads((base / PRETRAIN_CARD).read_text())
    assert card["id"] == "pebench-tiny-base-s0" and card["fingerprint"] == weights_fingerprint(base)
    assert 24 * 6 <= card["corpus"]["rows"] <= 24 * 8 and card["corpus"]["pool_dropped_as_release_lookalikes"] >= 0
    stage = card["vision_stage"]  # dense tagging, scored on scenes it never saw
    assert stage["held_out_scenes"] >= 1 and 0.0 <= stage["held_out_presence_auc"] <= 1.0
    assert main(["pretrain", "--data", str(small_data), "--out", str(tmp_path / "again"), *QUICK]) == 0
    assert (tmp_path / "again" / "model.safetensors").read_bytes() == (base / "model.safetensors").read_bytes()


def test_models_made_from_a_base_carry_it_into_cards_and_results(base, small_data, tmp_path):
    from pebench.evaluation import model_info
    from pebench.training import PRETRAIN_CARD

    expected = {k: json.loads((base / PRETRAIN_CARD).read_text())[k] for k in ("id", "fingerprint")}
    ft = tmp_path / "ft"
    assert main(["train", "--data", str(small_data), "--config", "person_forget05", "--subset", "full",
                 "--model", str(base), "--out", str(ft), "--epochs", "1"]) == 0
    card = json.loads((ft / "pebench_train.json").read_text())
    assert card["model_kind"] == "base" and card["base"] == expected and card["training"]["lr"] == 3e-3
    out = tmp_path / "ga"
    assert main(["unlearn", "--data", str(small_data), "--config", "person_forget05", "--model", str(ft),
                 "--method", "ga", "--out", str(out), "--set", "steps=1", "--set", "batch_size=4",
                 "--set", "probe_size=4"]) == 0
    assert json.loads((out / "unlearning.json").read_text())["base"] == expected
    from pebench.data import fingerprint

    info = model_info(out, fingerprint(small_data))
    assert info["base"] == expected and info["selection"]["rule"] == "budget" and info["selection"]["step"] == 1


def _one_line(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_a_base_for_another_dataset_or_with_changed_weights_is_refused(capsys, base, small_data, tmp_path):
    import data_builders

    other = data_builders.build(tmp_path / "other", people=6, events=4, image_size=32, seed=1)
    train = ["train", "--config", "person_forget05", "--subset", "full", "--epochs", "1"]
    _one_line(capsys, [*train, "--data", str(other), "--model", str(base), "--out", str(tmp_path / "x")],
              "was pretrained for dataset")
    forged = tmp_path / "forged"
    shutil.copytree(base, forged)
    weights = forged / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + bytes(8))
    _one_line(capsys, [*train, "--data", str(small_data), "--model", str(forged), "--out", str(tmp_path / "y")],
              "do not match the fingerprint")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


@pytest.mark.parametrize("extra, message", [(["--scenes", "0"], "scenes must be a positive integer"),
                                            (["--epochs", "0"], "epochs must be positive"),
                                            (["--vision-epochs", "-1"], "vision epochs must be 0"),
                                            (["--vision-lr", "0"], "vision lr must be positive"),
                                            (["--model", "huge"], "unknown preset 'huge' to pretrain")])
def test_bad_pretraining_settings_are_one_line(capsys, small_data, tmp_path, extra, message):
    _one_line(capsys, ["pretrain", "--data", str(small_data), "--out", str(tmp_path / "b"), *QUICK, *extra], message)
    assert not (tmp_path / "b").exists()
