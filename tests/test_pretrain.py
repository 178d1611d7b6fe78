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


def test_describe_people_asks_what_the_unnamed_person_looks_like(monkeypatch):
    from data_builders import scenes
    from data_builders.people import appearance, make_people, seeded

    monkeypatch.setattr(scenes, "DESCRIBE_POOL", 60)  # the real pool (1,000 looks) takes ~12 s to draw
    pool = make_people(60, seeded(0, "pretrain-people"))[0]
    rows = scenes.scene_rows(20, 32, seed=0, describe=True, release=pool[:30])
    described = [r for r in rows if r["negative_kind"] == "describe"]
    asked = [r for r in rows if r["negative_kind"] == "attribute"]
    assert len(described) == len(asked) == 20 and not any(r["person_name"] for r in rows)
    looks = {appearance(p["attributes"]): p["attributes"] for p in pool}
    released = {appearance(p["attributes"]) for p in pool[:30]}
    for look, attribute in zip(described, asked):  # both rows describe the person drawn in the scene
        assert look["image"] == attribute["image"] and look["answer"] in looks and look["answer"] not in released
        assert looks[look["answer"]][next(k for k, (q, _) in scenes.ASKED_ATTRIBUTES.items()
                                          if q == attribute["question"])] in attribute["answer"]
    assert len({r["answer"] for r in described}) > 10  # many looks, not one remembered answer
    assert scenes._listing([]) == "no objects"  # a person covering every object (a scene 6000-6099, describing pool)
    assert [r for r in rows if r["negative_kind"] not in ("describe", "attribute")] == [
        r for r in scenes.scene_rows(20, 32, seed=0, release=pool[:30], people=60)]  # the other rows as without


def test_a_base_pretrained_with_descriptions_says_so_in_its_card(small_data, tmp_path, monkeypatch):
    from data_builders import scenes
    from pebench.training import PRETRAIN_CARD

    monkeypatch.setattr(scenes, "DESCRIBE_POOL", 60)
    out = tmp_path / "base"
    assert main(["pretrain", "--data", str(small_data), "--out", str(out), *QUICK, "--describe-people"]) == 0
    corpus = json.loads((out / PRETRAIN_CARD).read_text())["corpus"]
    assert corpus["describe_people"] is True and corpus["pool"] == 60 and 24 * 8 <= corpus["rows"] <= 24 * 10


def test_a_base_records_its_id_and_fingerprint_and_is_the_same_bytes_twice(base, small_data, tmp_path):
    from pebench.training import PRETRAIN_CARD, weights_fingerprint

    card = json.loads((base / PRETRAIN_CARD).read_text())
    assert card["id"] == "pebench-tiny-base-s0" and card["fingerprint"] == weights_fingerprint(base)
    assert 24 * 6 <= card["corpus"]["rows"] <= 24 * 8 and card["corpus"]["pool_dropped_as_release_lookalikes"] >= 0
    stage = card["vision_stage"]  # dense tagging, scored on scenes it never saw
    assert stage["held_out_scenes"] >= 1 and 0.0 <= stage["held_out_presence_auc"] <= 1.0
    warmup = card["curriculum_stage"]  # tiny's presence warm-up: 2 steps each of clean, blend, real glimpses
    assert warmup["rows"] == 24 * 6 and warmup["glimpse_tokens"] == 12
    assert [(p["view"], p["tokens"], p["steps"]) for p in warmup["phases"]] == [
        ("glimpse", "clean", 2), ("glimpse", "blend", 2), ("glimpse", "real", 2)]
    assert main(["pretrain", "--data", str(small_data), "--out", str(tmp_path / "again"), *QUICK]) == 0
    for name in ("model.safetensors", "replay.parquet"):
        assert (tmp_path / "again" / name).read_bytes() == (base / name).read_bytes()


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
                                            (["--curriculum", "glimpse/real:0"], "want VIEW/TOKENS:STEPS"),
                                            (["--curriculum", "crop/real:5"], "curriculum phase 'crop/real:5'"),
                                            (["--curriculum", "image/noisy:5"], "TOKENS clean|blend|real"),
                                            (["--tokens", "names"], "needs a projector with a hidden channel per label"),
                                            (["--model", "huge"], "unknown preset 'huge' to pretrain")])
def test_bad_pretraining_settings_are_one_line(capsys, small_data, tmp_path, extra, message):
    _one_line(capsys, ["pretrain", "--data", str(small_data), "--out", str(tmp_path / "b"), *QUICK, *extra], message)
    assert not (tmp_path / "b").exists()


def test_a_glimpse_keeps_each_objects_best_patch_in_image_order_then_the_emptiest():
    import numpy as np

    from data_builders.pretrain import glimpse_patches

    objects = np.zeros((16, 16), dtype=np.int16)  # a 2 x 2 grid of 8 x 8 patches
    objects[0:2, 0:8] = 9     # 16 pixels of patch 0 ...
    objects[0:8, 8:16] = 9    # ... but all of patch 1: object 9's best
    objects[8:16, 0:3] = 4    # object 4: patch 2 only (a sliver still counts)
    assert glimpse_patches(objects, 2, count=2).tolist() == [1, 2]
    assert glimpse_patches(objects, 2, count=4).tolist() == [1, 2, 3, 0]  # padding: emptiest first
    assert glimpse_patches(np.zeros((16, 16), dtype=np.int16), 2, count=3).tolist() == [0, 1, 2]


def test_a_glimpse_of_every_patch_is_the_whole_image_and_clean_tokens_are_the_names(base):
    """The curriculum's path cuts and splices the image block: given all patches in order and the projector's
    tokens (mix 1) it must be the model; at mix 0 the image tokens are the names' embeddings, and a blend is
    the straight line between the two."""
    import datasets
    import torch

    from data_builders.pretrain import _mixing, _name_token_ids, name_embeddings
    from data_builders.scenes import scene_rows
    from pebench import schema
    from pebench.adapter import VLM
    from pebench.training import answer_mean_loss

    vlm = VLM.from_pretrained(base, dtype="float32")
    rows = [r for r in scene_rows(2, 32, seed=3) if r["negative_kind"] in ("present", "list")]
    rows = list(datasets.Dataset.from_list(rows, features=schema.QA_FEATURES))  # images decoded
    batch = vlm.encode(rows)
    tokens = int((batch["input_ids"][0] == vlm.model.config.image_token_id).sum())
    with torch.no_grad():
        whole = answer_mean_loss(vlm.model(**{k: v for k, v in batch.items() if k != "labels"}).logits,
                                 batch["labels"])
        mixing = _mixing(vlm.model, answer_mean_loss, _name_token_ids(vlm))
        every = mixing(**batch, patches=torch.arange(tokens).repeat(len(rows), 1))["loss"]
        fewer = mixing(**batch, patches=torch.arange(4).repeat(len(rows), 1))["loss"]
    assert torch.allclose(every, whole, atol=1e-5) and not torch.allclose(fewer, whole, atol=1e-3)

    labels = torch.tensor([0, 3, 0, 7]).repeat(len(rows), 1)  # label k = object k - 1, 0 = nothing
    labels[1] = torch.tensor([5, 5, 0, 1])
    fed = []
    hook = vlm.model.model.language_model.register_forward_pre_hook(
        lambda module, args, kwargs: fed.append(kwargs["inputs_embeds"]), with_kwargs=True)
    patches = torch.arange(4).repeat(len(rows), 1)
    try:
        with torch.no_grad():
            for mix in (0.0, 1.0, 0.25):
                mixing.mix = mix
                mixing(**batch, patches=patches, patch_labels=labels)
    finally:
        hook.remove()
    start = int((batch["input_ids"][0] == vlm.model.config.image_token_id).nonzero()[0])
    clean, real, blend = (x[:, start:start + 4] for x in fed)
    names = torch.cat([torch.zeros(1, clean.shape[-1]), name_embeddings(vlm)])
    assert torch.allclose(clean, names[labels]) and clean[0, 0].abs().sum() == 0
    assert torch.allclose(blend, 0.75 * clean + 0.25 * real, atol=1e-6) and not torch.allclose(real, clean)


def test_name_tokens_tag_in_the_projectors_hidden_layer_then_write_the_names_embeddings(small_data):
    """`--tokens names` on `small` (192 hidden channels >= 140 labels): hidden channel k is label k's logit, and
    after tagging the output layer turns channel k into object k's name embedding (label 0, nothing, into nothing)."""
    import torch

    from data_builders.catalogue import OBJECTS
    from data_builders.pretrain import _speak_names, _tagger, name_embeddings
    from pebench import tiny
    from pebench.adapter import VLM

    model, processor = tiny.build(tiny.dataset_texts(small_data), "small", 0)
    vlm = VLM(model, processor, device="cpu", dtype="float32")
    count = len(OBJECTS) + 1
    pixels = torch.rand(2, 3, 64, 64)
    labels = torch.randint(0, count, (2, 64))
    out = _tagger(model, count, names=True)(pixels, labels)
    assert out["logits"].shape == (2, 64, count) and torch.isfinite(out["loss"])
    out["loss"].backward()  # the loss reaches the vision tower
    assert next(model.model.vision_tower.parameters()).grad.abs().sum() > 0
    _speak_names(vlm, count)
    projector = model.model.multi_modal_projector.linear_2
    hidden = torch.zeros(3, projector.in_features)
    hidden[0, 5], hidden[1, 0], hidden[2, count + 3] = 2.0, 1.0, 1.0
    written = projector(hidden).detach()
    assert torch.allclose(written[0], 2 * name_embeddings(vlm)[4]) and not written[1:].any()


def test_the_curriculum_is_the_same_bytes_on_two_threads(small_data, tmp_path):
    """Clean tokens are built by matrix products: an indexing backward summed repeated rows in a
    thread-dependent order, and two runs on 2 threads gave different weights."""
    import torch

    argv = [*QUICK, "--scenes", "40", "--vision-epochs", "1", "--curriculum", "glimpse/clean:3,glimpse/blend:3"]
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        for name in ("a", "b"):
            assert main(["pretrain", "--data", str(small_data), "--out", str(tmp_path / name), *argv]) == 0
    finally:
        torch.set_num_threads(threads)
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (tmp_path / "b" / "model.safetensors").read_bytes()


def test_a_base_keeps_a_sample_of_its_corpus_that_train_can_replay(base, small_data, tmp_path):
    import datasets

    from data_builders.pretrain import REPLAY_ROWS
    from pebench import data
    from pebench.io import file_sha256
    from pebench.training import PRETRAIN_CARD

    base_card = json.loads((base / PRETRAIN_CARD).read_text())
    entry = base_card["replay"]
    assert entry["rows"] == min(REPLAY_ROWS, base_card["corpus"]["rows"]) and entry["sha256"] == file_sha256(base / entry["file"])
    replay = datasets.Dataset.from_parquet(str(base / entry["file"]))
    names = set(data.load_split(small_data, "people", "train")["name"])
    assert not [a for a in replay["answer"] if any(n in a for n in names)]  # generic scenes: nobody of the release
    ft = tmp_path / "ft"
    assert main(["train", "--data", str(small_data), "--config", "person_forget05", "--subset", "retain",
                 "--model", str(base), "--out", str(ft), "--epochs", "1", "--replay", "16"]) == 0
    card = json.loads((ft / "pebench_train.json").read_text())
    retain = data.load_split(small_data, "person_forget05", "retain_train")
    assert card["replay"] == {"rows": 16, "sha256": entry["sha256"]} and card["rows"] == len(retain) + 16


def test_bad_replay_requests_are_one_line_and_write_nothing(capsys, base, small_data, tmp_path):
    train = ["train", "--data", str(small_data), "--config", "person_forget05", "--subset", "full",
             "--epochs", "1", "--out", str(tmp_path / "ft")]
    _one_line(capsys, [*train, "--model", str(base), "--replay", "-1"], "--replay must be >= 0")
    _one_line(capsys, [*train, "--model", "tiny", "--replay", "4"], "holds no replay rows")
    _one_line(capsys, [*train, "--model", str(base), "--replay", "999999"], "replay rows")
    changed = tmp_path / "changed"
    shutil.copytree(base, changed)
    (changed / "replay.parquet").write_bytes(b"not the base's rows")
    _one_line(capsys, [*train, "--model", str(changed), "--replay", "4"], "does not match the sha256")
    assert not (tmp_path / "ft").exists()
