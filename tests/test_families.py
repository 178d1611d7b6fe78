"""The family matrix: one adapter over LLaVA (CLIP + Llama, SigLIP + Qwen2), Idefics3, PaliGemma and Qwen2-VL.

Every family is a tiny checkpoint built from config by `pebench.families` (the family's real model and
processor classes, its own tokenizer, a chat template in its style), saved as an ordinary folder and
loaded back through the Auto classes (`family_checkpoint` in conftest). Default suite: the adapter's
contract per family, LoRA and decoder-layer lookup, and train -> unlearn -> evaluate -> board verification
with three methods. `-m slow`: every registered method per family. Qwen2-VL's processor needs torchvision:
where it cannot be imported, its checkpoint tests skip with the reason; its model-only tests still run.
"""
import json
import math

import pytest
import torch

from baselines import METHODS
from pebench import families
from pebench.adapter import VLM, decoder, decoder_layers, lora_targets, with_lora
from pebench.errors import UserError

FAMILIES = list(families.FAMILIES)
CONFIG = "person_forget05"
QUICK_METHODS = ("gd", "rmu", "siu")  # retain + NLL, a decoder-layer method, refusal answers + reference
UNLEARN = dict(steps=1, batch_size=4, probe_size=4, curve_every=1, lr=1e-3)


@pytest.fixture(scope="module")
def rows(small_data):
    """Mixed rows of `full/train`: a person image (short answer), a scene (long answer), two text-only rows."""
    import datasets

    ds = datasets.load_dataset(str(small_data), "full", split="train")
    tasks = ds["task"]
    first = [tasks.index(task) for task in ("person_name", "event_description")]
    text_only = [i for i, task in enumerate(tasks) if task.startswith("profile")][:2]
    picked = [ds[i] for i in (first[0], text_only[0], first[1], text_only[1])]
    assert [r["image"] is None for r in picked] == [False, True, False, True]
    return picked


def load(family_checkpoint, family):
    return VLM.from_pretrained(family_checkpoint(family), dtype="float32")


# ------------------------------------------------------------------------------ the adapter contract
@pytest.mark.parametrize("family", FAMILIES)
def test_answer_tokens_are_the_answer_and_its_end_of_turn(family, family_checkpoint, rows):
    vlm = load(family_checkpoint, family)
    batch = vlm.encode(rows)
    eos = vlm.eos_ids()
    for i, row in enumerate(rows):
        answer = batch["input_ids"][i][batch["labels"][i] != -100]
        assert answer[-1].item() in eos, family  # stops at the end of turn: no template newline after it
        assert vlm.tokenizer.decode(answer[:-1]).strip() == row["answer"]
        assert (batch["labels"][i][batch["attention_mask"][i] == 0] == -100).all()


@pytest.mark.parametrize("family", FAMILIES)
def test_log_probs_do_not_depend_on_padding(family, family_checkpoint, rows):
    """Per-row answer log-probs alone equal those in a padded mixed batch (image and text-only rows)."""
    vlm = load(family_checkpoint, family)
    together = vlm.token_logprobs(rows, batch_size=len(rows))
    for row, batched in zip(rows, together):
        alone = vlm.token_logprobs([row])[0]["logprobs"]
        assert len(alone) == len(batched["logprobs"]) > 1
        assert abs(alone - batched["logprobs"]).max() < 1e-5, family


@pytest.mark.parametrize("family", FAMILIES)
def test_left_padded_generation_equals_unbatched(family, family_checkpoint, rows):
    vlm = load(family_checkpoint, family)
    batched = vlm.generate(rows, max_new_tokens=6, batch_size=len(rows))
    assert batched == [vlm.generate([row], max_new_tokens=6)[0] for row in rows]


def forward_leak(model, batch):
    """Largest change of any logit before each row's last answer token when that token is replaced.

    Zero iff no earlier position (prompt or answer) attends to it: answer tokens are typed causal.
    """
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    last = [int((labels != -100).nonzero().max()) for labels in batch["labels"]]
    changed = inputs["input_ids"].clone()
    for i, position in enumerate(last):
        answer = batch["input_ids"][i][batch["labels"][i] != -100]
        changed[i, position] = next(t for t in answer.tolist() if t != changed[i, position].item())
    with torch.no_grad():
        before = model(**inputs).logits
        after = model(**{**inputs, "input_ids": changed}).logits
    return max(float((before[i, :p] - after[i, :p]).abs().max()) for i, p in enumerate(last))


@pytest.mark.parametrize("family", FAMILIES)
def test_the_answer_cannot_attend_forward(family, family_checkpoint, rows):
    vlm = load(family_checkpoint, family)
    vlm.model.eval()
    batch = vlm.encode(rows)
    assert forward_leak(vlm.model, batch) < 1e-5, family
    if "token_type_ids" in batch:  # the check has teeth: typed as prefix, the answer sees its own future
        assert forward_leak(vlm.model, {**batch, "token_type_ids": torch.zeros_like(batch["token_type_ids"])}) > 1e-4


def answer_nll(vlm, batch):
    from pebench.training import answer_loss

    with torch.no_grad():
        return float(answer_loss(vlm.model, batch)[0])


@pytest.mark.parametrize("family", FAMILIES)
def test_a_training_step_lowers_the_loss_and_an_unlearning_step_raises_it(family, family_checkpoint, rows):
    """One AdamW step on the training loss (answer positions only, `logits_to_keep`), then one on GA."""
    from pebench.training import answer_loss

    vlm = load(family_checkpoint, family)
    batch = vlm.encode(rows)
    optimizer = torch.optim.AdamW(vlm.model.parameters(), lr=3e-3)
    vlm.model.train()
    steps = ((lambda: answer_loss(vlm.model, batch)[0], -1), (lambda: METHODS.get("ga")(vlm.model, batch, None), 1))
    for loss_fn, sign in steps:
        before = answer_nll(vlm, batch)
        loss_fn().backward()
        optimizer.step()
        optimizer.zero_grad()
        assert sign * (answer_nll(vlm, batch) - before) > 0, (family, sign, before)


# ------------------------------------------------------------------------------ decoder and LoRA
def family_model(family, family_checkpoint):
    """The bare model: Qwen2-VL's is built without its processor, so its checks run without torchvision."""
    if family == "qwen2_vl":
        return families.qwen2_vl_model(families.qwen2_vl_tokenizer(["Who is this? This is Anna Lee."]))
    return load(family_checkpoint, family).model


@pytest.mark.parametrize("family", FAMILIES)
def test_decoder_layers_are_the_language_models(family, family_checkpoint):
    """RMU's layers come from `get_decoder()`: Qwen2-VL's `visual.blocks` (as deep here) is not taken."""
    from baselines import rmu

    model = family_model(family, family_checkpoint)
    layers = decoder_layers(model)
    assert layers is model.get_decoder().layers
    assert len(layers) == model.config.get_text_config().num_hidden_layers
    rmu.prepare(model, None, [], seed=0)
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    prefix = next(name for name, module in model.named_modules() if module is decoder(model))
    assert trainable and all(name.startswith(f"{prefix}.layers.") and ".mlp." in name for name in trainable)


@pytest.mark.parametrize("family", FAMILIES)
def test_lora_wraps_the_decoder_linears_only(family, family_checkpoint):
    model = family_model(family, family_checkpoint)
    prefix = next(name for name, module in model.named_modules() if module is decoder(model))
    wrapped = with_lora(model, 2)
    names = [name for name, p in wrapped.named_parameters() if p.requires_grad]
    assert names and all("lora_" in name and f"{prefix}.layers." in name for name in names), lora_targets(model)
    # every projection of every decoder layer, nothing of the vision tower
    assert len(names) == 2 * 7 * len(decoder_layers(model)), names
    assert with_lora(model, 0) is model


# ------------------------------------------------------------------------------ PaliGemma's prefix-LM
@pytest.fixture(scope="module")
def paligemma(family_checkpoint):
    return load(family_checkpoint, "paligemma")


def test_paligemma_text_only_rows_share_the_processor_layout(paligemma, rows):
    """A text-only row is laid out as its image row minus the image tokens: `<bos>` question newline answer."""
    image_row, text_row = rows[0], {**rows[0], "image": None}
    tok = paligemma.tokenizer
    with_image, alone = paligemma.encode([image_row]), paligemma.encode([text_row])
    keep = with_image["input_ids"][0] != tok.image_token_id
    for key in ("input_ids", "token_type_ids", "labels"):
        assert with_image[key][0][keep].tolist() == alone[key][0].tolist(), key
    text = tok.decode(alone["input_ids"][0])
    assert text == f"{tok.bos_token}{image_row['question']}\n{image_row['answer']}{tok.eos_token}"
    assert "pixel_values" not in alone


def test_paligemma_mixed_batches_keep_one_bos_in_place(paligemma, rows):
    tok = paligemma.tokenizer
    batch = paligemma.encode(rows)
    for i, row in enumerate(rows):
        ids = batch["input_ids"][i][batch["attention_mask"][i] == 1]
        assert (ids == tok.bos_token_id).sum() == 1
        text = tok.decode(ids[ids != tok.image_token_id])
        assert text.startswith(f"{tok.bos_token}{row['question']}\n"), text


def test_paligemma_template_bos_is_not_doubled(family_checkpoint, rows):
    vlm = load(family_checkpoint, "paligemma")
    vlm.processor.chat_template = "{{ bos_token }}" + vlm.processor.chat_template
    batch = vlm.encode(rows)
    assert ((batch["input_ids"] == vlm.tokenizer.bos_token_id).sum(1) == 1).all()


# ------------------------------------------------------------------------------ missing packages
def test_missing_optional_packages_are_one_line_naming_the_extra(family_checkpoint, tmp_path, monkeypatch, capsys,
                                                                 small_data):
    """torchvision (Qwen2-VL), num2words (SmolVLM) and peft (LoRA): one line, exit 2, the extra to install."""
    from pebench.cli import main

    qwen = tmp_path / "qwen"
    family_model("qwen2_vl", family_checkpoint).save_pretrained(qwen)
    monkeypatch.setitem(__import__("sys").modules, "torchvision", None)
    with pytest.raises(UserError, match=r"torchvision .*pip install 'pebench\[qwen\]'"):
        VLM.from_pretrained(qwen)
    capsys.readouterr()
    code = main(["train", "--data", str(small_data), "--config", CONFIG, "--subset", "full", "--model", str(qwen),
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "pebench[qwen]" in err, err
    smolvlm = tmp_path / "smolvlm"
    smolvlm.mkdir()
    (smolvlm / "config.json").write_text(json.dumps({"model_type": "smolvlm"}))
    monkeypatch.setitem(__import__("sys").modules, "num2words", None)
    with pytest.raises(UserError, match=r"num2words .*pip install 'pebench\[smolvlm\]'"):
        VLM.from_pretrained(smolvlm)
    monkeypatch.setitem(__import__("sys").modules, "peft", None)
    with pytest.raises(UserError, match=r"peft .*pip install 'pebench\[lora\]'"):
        with_lora(load(family_checkpoint, "llava").model, 2)


def test_unknown_family_lists_the_known_ones():
    with pytest.raises(UserError, match="choose from: llava"):
        families.build("gpt2", ["x"])


# ------------------------------------------------------------------------------ the pipeline
def mean_answer_nll(model_dir, rows):
    return -sum(float(x["logprobs"].mean()) for x in VLM.from_pretrained(model_dir).token_logprobs(rows)) / len(rows)


def pipeline(family, family_checkpoint, small_data, tmp_path, methods, rows, lora_method=None):
    """train -> unlearn (each of `methods`, one step) -> evaluate -> the board's verification. Returns cards."""
    from leaderboard.verify import dataset_fingerprint, verify_result
    from pebench.evaluation import evaluate
    from pebench.training import train
    from pebench.unlearning import unlearn

    base = family_checkpoint(family)
    card = train(small_data, CONFIG, "full", str(base), tmp_path / "ft", epochs=1, lr=3e-3, batch_size=16,
                 progress=False)
    assert card["model_kind"] == "checkpoint" and card["steps"] > 1
    assert mean_answer_nll(tmp_path / "ft", rows) < mean_answer_nll(base, rows) - 0.5  # training rows learnt a bit
    cards = {}
    for method in methods:
        overrides = {**UNLEARN, **({"lora_r": 2} if method == lora_method else {})}
        cards[method] = unlearn(small_data, CONFIG, tmp_path / "ft", method, tmp_path / method, overrides=overrides)
        curve = cards[method]["curve"]
        assert cards[method]["stop"] == {"reason": "budget"} and [p["step"] for p in curve] == [0, 1]
        assert all(math.isfinite(v) for point in curve for v in point.values()), (family, method)
    result = evaluate(small_data, CONFIG, tmp_path / methods[0], max_new_tokens=8, bootstrap=0, progress=False)
    fresh = verify_result(json.loads(json.dumps(result)), small_data, dataset_fingerprint(small_data))
    assert fresh["aggregates"] == result["aggregates"] and result["model"]["method"] == methods[0]
    return cards


@pytest.mark.parametrize("family", FAMILIES)
def test_train_unlearn_evaluate_verify(family, family_checkpoint, small_data, tmp_path, rows):
    cards = pipeline(family, family_checkpoint, small_data, tmp_path, QUICK_METHODS, rows, lora_method="siu")
    gd = cards["gd"]["curve"]
    assert gd[-1]["forget_val_nll"] > gd[0]["forget_val_nll"], gd  # the unlearning step raised the forget loss


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_every_method_runs_on_every_family(family, family_checkpoint, small_data, tmp_path, rows):
    pipeline(family, family_checkpoint, small_data, tmp_path, METHODS.names(), rows)
