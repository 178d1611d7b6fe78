"""The model adapter and the tiny model, on rows made in memory (no dataset needed)."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from pebench import tiny
from pebench.adapter import VLM
from pebench.errors import UserError

NAMES = ["Anna Lee", "Bob Marsh", "Cy Dunn", "Dee Fox"]
COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30)]


def make_rows():
    rows = []
    for name, colour in zip(NAMES, COLOURS):
        rows.append(dict(id=f"person_name/{name}", task="person_name", image=Image.new("RGB", (64, 64), colour),
                         question="Who is the person in this image?", answer=f"This is {name}."))
        rows.append(dict(id=f"profile_job/{name}", task="profile_job", image=None,
                         question=f"What does {name} do for a living?", answer=f"{name} works as a pilot."))
    return rows


@pytest.fixture(scope="module")
def rows():
    return make_rows()


@pytest.fixture(scope="module")
def trained(rows):
    """A tiny model that has learnt the rows (mixed image and text-only batches)."""
    texts = [r["question"] for r in rows] + [r["answer"] for r in rows] + list(tiny.REFUSALS)
    model, processor = tiny.build(texts, "tiny", seed=0)
    vlm = VLM(model, processor)
    optimizer = torch.optim.AdamW(vlm.model.parameters(), lr=3e-3)
    vlm.model.train()
    for _ in range(120):
        vlm.model(**vlm.encode(rows)).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return vlm


@pytest.fixture(scope="module")
def saved(trained, tmp_path_factory):
    out = tmp_path_factory.mktemp("model")
    trained.model.save_pretrained(out)
    trained.processor.save_pretrained(out)
    return out


def test_defaults_on_cpu(trained):
    assert trained.device == "cpu" and trained.dtype == torch.float32
    assert next(trained.model.parameters()).dtype == torch.float32


def test_labels_cover_the_answer_only(trained, rows):
    batch = trained.encode(rows[:3])
    decode = trained.tokenizer.decode
    for i, row in enumerate(rows[:3]):
        ids, labels = batch["input_ids"][i], batch["labels"][i]
        assert decode(ids[labels != -100]) == f" {row['answer']}</s>"
        assert (labels[batch["attention_mask"][i] == 0] == -100).all()
        prompt = ids[(labels == -100) & (batch["attention_mask"][i] == 1)]
        assert decode(prompt).endswith(f"{row['question']} ASSISTANT:")
    # one image per image row: text-only rows add no pixels, image rows keep theirs
    assert batch["pixel_values"].shape[0] == 2
    image_id = trained.tokenizer.image_token_id
    assert [(ids == image_id).any().item() for ids in batch["input_ids"]] == [True, False, True]


def test_answers_override_and_text_only_batch(trained, rows):
    text_rows = [r for r in rows if r["image"] is None]
    batch = trained.encode(text_rows, answers=["I don't know."] * len(text_rows))
    assert "pixel_values" not in batch
    assert trained.tokenizer.decode(batch["input_ids"][0][batch["labels"][0] != -100]) == " I don't know.</s>"
    with pytest.raises(ValueError):
        trained.encode(text_rows, answers=["x"])


def test_token_logprobs_agree_with_the_loss(trained, rows):
    out = trained.token_logprobs(rows, batch_size=3, with_stats=True)
    assert len(out) == len(rows)
    for row, item in zip(rows, out):
        batch = trained.encode([row])
        with torch.no_grad():
            loss = trained.model(**batch).loss.item()
        assert item["logprobs"].dtype == np.float32
        assert len(item["logprobs"]) == (batch["labels"] != -100).sum().item()
        assert -item["logprobs"].mean() == pytest.approx(loss, rel=1e-4, abs=1e-5)
        assert item["mean"].shape == item["std"].shape == item["logprobs"].shape
        assert (item["mean"] <= 0).all() and (item["std"] >= 0).all()
    # a learnt answer is likelier than a wrong one
    wrong = trained.token_logprobs(rows[:1], answers=["This is Dee Fox."])[0]["logprobs"].sum()
    assert out[0]["logprobs"].sum() > wrong


def test_generate_batched_equals_one_by_one(trained, rows):
    batched = trained.generate(rows, max_new_tokens=16, batch_size=8)
    single = [trained.generate([row], max_new_tokens=16)[0] for row in rows]
    assert batched == single
    assert batched == [r["answer"] for r in rows]  # learnt, and stopped at EOS


def test_round_trip_same_loglikelihoods(trained, saved, rows):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    assert type(AutoModelForImageTextToText.from_pretrained(saved)).__name__ == "LlavaForConditionalGeneration"
    assert AutoProcessor.from_pretrained(saved).chat_template
    loaded = VLM.from_pretrained(saved)
    for a, b in zip(trained.token_logprobs(rows), loaded.token_logprobs(rows)):
        np.testing.assert_array_equal(a["logprobs"], b["logprobs"])


def test_tiny_presets_are_seeded_and_sized(rows):
    texts = [r["answer"] for r in rows]
    a, _ = tiny.build(texts, "tiny", seed=1)
    b, _ = tiny.build(texts, "tiny", seed=1)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert 0.1e6 < tiny.count_parameters(a) < 1.5e6
    with pytest.raises(UserError, match="choose from"):
        tiny.build(texts, "huge")


def test_refusals_are_stable_per_task():
    person = tiny.refusal_answer({"id": "person_name/p001/e01/v0", "task": "person_name"})
    assert person in tiny.REFUSALS_BY_TASK["person_name"]
    assert person == tiny.refusal_answer({"id": "person_name/p001/e01/v0", "task": "person_name"})
    assert tiny.refusal_answer({"id": "x", "task": "profile_age"}) in tiny.REFUSALS_BY_TASK["profile"]
    assert set(tiny.REFUSALS) >= {"I don't know who this is."}


def test_bad_checkpoints_are_user_errors(saved, tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        VLM.from_pretrained(tmp_path / "missing")
    no_template = tmp_path / "no_template"
    no_template.mkdir()
    for f in saved.iterdir():
        if f.name != "chat_template.jinja":
            (no_template / f.name).write_bytes(f.read_bytes())
    config = no_template / "processor_config.json"
    if config.exists():
        data = json.loads(config.read_text())
        data.pop("chat_template", None)
        config.write_text(json.dumps(data))
    with pytest.raises(UserError, match="chat template"):
        VLM.from_pretrained(no_template)


def test_text_only_checkpoint_is_refused(trained, tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = trained.tokenizer
    tokenizer.chat_template = tiny.CHAT_TEMPLATE
    LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32,
                                 num_hidden_layers=1, num_attention_heads=2)).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    with pytest.raises(UserError, match="image"):
        VLM.from_pretrained(tmp_path)
