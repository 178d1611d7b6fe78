"""Unlearning baselines: loss directions on hand-made batches, the trainer, the CLI.

The loss tests use a tiny LLaVA built from configs (random weights) and token batches made by hand, so
they need neither the dataset builder nor the adapter.
"""
import copy
import json
import math

import pytest
import torch

from baselines import METHODS
from baselines._common import nll, sequence_nll
from pebench.methods import hparams_of, needs_of
from pebench.errors import UserError

VOCAB, IMAGE, PATCH = 64, 32, 8
IMAGE_TOKENS = (IMAGE // PATCH) ** 2
IMAGE_ID = VOCAB - 1


def tiny_llava(seed=0):
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

    torch.manual_seed(seed)
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                              image_size=IMAGE, patch_size=PATCH, projection_dim=32)
    text = LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=4,
                       num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128)
    config = LlavaConfig(vision_config=vision, text_config=text, image_token_index=IMAGE_ID,
                         vision_feature_select_strategy="default", vision_feature_layer=-1)
    return LlavaForConditionalGeneration(config).eval()


def hand_batch(generator, rows, question=4, answers=(3,), vocab=range(1, 30)):
    """Rows of [image tokens][question][answer]; labels only on the answer; answers may differ in length."""
    lo, hi = vocab.start, vocab.stop
    length = IMAGE_TOKENS + question + max(answers)
    ids = torch.zeros(rows, length, dtype=torch.long)  # right padding with id 0
    labels = torch.full((rows, length), -100)
    mask = torch.zeros(rows, length, dtype=torch.long)
    for r in range(rows):
        n = IMAGE_TOKENS + question + answers[r % len(answers)]
        ids[r, :IMAGE_TOKENS] = IMAGE_ID
        ids[r, IMAGE_TOKENS:n] = torch.randint(lo, hi, (n - IMAGE_TOKENS,), generator=generator)
        labels[r, IMAGE_TOKENS + question:n] = ids[r, IMAGE_TOKENS + question:n]
        mask[r, :n] = 1
    pixels = torch.randn(rows, 3, IMAGE, IMAGE, generator=generator)
    return {"input_ids": ids, "attention_mask": mask, "pixel_values": pixels, "labels": labels}


def with_answer(batch, generator, answer_len=3, vocab=range(30, 40)):
    """The same rows (image, question) with another answer drawn from `vocab` (a refusal stand-in)."""
    first_answer = (batch["labels"] != -100).float().argmax(1)
    out = {k: v.clone() for k, v in batch.items()}
    for r, start in enumerate(first_answer.tolist()):
        out["input_ids"][r, start:] = 0
        out["labels"][r, start:] = -100
        out["attention_mask"][r, start:] = 0
        new = torch.randint(vocab.start, vocab.stop, (answer_len,), generator=generator)
        out["input_ids"][r, start:start + answer_len] = new
        out["labels"][r, start:start + answer_len] = new
        out["attention_mask"][r, start:start + answer_len] = 1
    return out


@pytest.fixture(scope="module")
def batches():
    g = torch.Generator().manual_seed(0)
    forget = hand_batch(g, 4, answers=(2, 8))  # person-like short answers and event-like long ones
    forget["fields"] = {"refusal": with_answer(forget, g), "is_person": torch.tensor([True, False, True, False])}
    retain = hand_batch(g, 4, answers=(3, 6), vocab=range(40, 62))
    return forget, retain


@pytest.fixture(scope="module")
def base_model(batches):
    """A tiny LLaVA that has learnt the forget and retain answers (NLL < 1), like a fine-tuned model."""
    forget, retain = batches
    model = tiny_llava().train()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(60):
        optimizer.zero_grad()
        (nll(model, forget) + nll(model, retain)).backward()
        optimizer.step()
    model.eval()
    assert value(nll, model, forget) < 1.0 and value(nll, model, retain) < 1.0
    return model


def step(model, method, forget, retain, ref, lr=0.05, **hparams):
    """A copy of `model` after one SGD step on `method`'s loss."""
    from pebench.methods import prepare_of

    model = copy.deepcopy(model).train()
    prepare = prepare_of(METHODS.get(method))
    if method == "rmu":
        prepare(model, ref, [], seed=0)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)
    METHODS.get(method)(model, forget, retain, ref=ref, **hparams).backward()
    optimizer.step()
    return model.eval()


def value(fn, *args, **kwargs):
    with torch.no_grad():
        return float(fn(*args, **kwargs))


FORGETTING = ("ga", "gd", "kl", "npo", "simnpo", "dpo", "bgd")


@pytest.mark.parametrize("method", FORGETTING)
def test_a_step_lowers_the_forget_likelihood(method, base_model, batches):
    """The forget term's direction (the retain term off: SimNPO weighs its forget term 0.125 by default)."""
    forget, retain = batches
    off = {"retain_weight": 0.0} if "retain_weight" in hparams_of(METHODS.get(method)) else {}
    after = step(base_model, method, forget, retain, ref=base_model, **off)
    assert value(nll, after, forget) > value(nll, base_model, forget) + 1e-4


@pytest.mark.parametrize("method", ("po", "siu", "dpo"))
def test_a_step_raises_the_refusal_likelihood(method, base_model, batches):
    forget, retain = batches
    after = step(base_model, method, forget, retain, ref=base_model)
    refusal = forget["fields"]["refusal"]
    assert value(nll, after, refusal) < value(nll, base_model, refusal) - 1e-4


@pytest.mark.parametrize("method", ("gd", "po", "npo", "simnpo", "dpo", "siu", "bgd"))
def test_the_retain_term_keeps_retain(method, base_model, batches):
    forget, retain = batches
    without = step(base_model, method, forget, retain, ref=base_model, retain_weight=0.0)
    after = step(base_model, method, forget, retain, ref=base_model)
    assert value(nll, after, retain) < value(nll, without, retain)
    assert "retain" in needs_of(METHODS.get(method), hparams_of(METHODS.get(method)))


def test_kl_keeps_retain_predictions_closer_to_the_reference_than_ga(base_model, batches):
    from baselines._common import answer_kl

    forget, retain = batches
    drifted = step(base_model, "ga", forget, retain, ref=None)  # at the reference the KL gradient is 0
    ga = step(drifted, "ga", forget, retain, ref=None)
    kl = step(drifted, "kl", forget, retain, ref=base_model, retain_weight=10.0)
    assert value(answer_kl, kl, base_model, retain) < value(answer_kl, ga, base_model, retain)


def test_rmu_moves_forget_states_toward_the_control_vector_and_trains_only_mlps(base_model, batches):
    from baselines import rmu

    forget, retain = batches
    layer = rmu.chosen_layer(base_model, None)
    assert layer == 1  # middle of 4 layers

    def distance(model):
        states = rmu.answer_states(model, forget, layer)
        return ((states - 2.0 * rmu.random_direction(states.shape[-1], 0, "cpu")) ** 2).mean()

    after = step(base_model, "rmu", forget, retain, ref=base_model, lr=0.5)
    assert value(distance, after) < value(distance, base_model)
    changed = {n for n, p in after.named_parameters() if not torch.equal(p, base_model.get_parameter(n))}
    assert changed and all(".mlp." in n for n in changed)
    assert any(".layers.0.mlp" in n for n in changed) and not any(".layers.2." in n for n in changed)


def test_npo_gradient_at_the_reference_equals_sequence_gradient_ascent(base_model, batches):
    forget, retain = batches
    model = copy.deepcopy(base_model)

    def grads(loss):
        model.zero_grad()
        loss.backward()
        return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])

    npo = grads(METHODS.get("npo")(model, forget, retain, ref=base_model, retain_weight=0.0))
    ascent = grads(-sequence_nll(model, forget).mean())
    assert torch.allclose(npo, ascent, atol=1e-5)
    at_ref = value(METHODS.get("npo"), model, forget, retain, ref=base_model, beta=0.1, retain_weight=0.0)
    assert at_ref == pytest.approx(2 / 0.1 * math.log(2), rel=1e-5)


def test_bgd_weighs_person_and_event_rows_equally(base_model, batches):
    forget, retain = batches
    with torch.no_grad():
        per_row = sequence_nll(base_model, forget, mean=True)
    person, event = per_row[forget["fields"]["is_person"]].mean(), per_row[~forget["fields"]["is_person"]].mean()
    got = value(METHODS.get("bgd"), base_model, forget, retain, retain_weight=0.0)
    assert got == pytest.approx(-float(0.5 * person + 0.5 * event), rel=1e-5)
    # token-mean GA weighs the long (event) answers 4x more: the two differ
    assert value(METHODS.get("ga"), base_model, forget, retain) != pytest.approx(got, rel=1e-3)


def test_kl_is_zero_against_itself_and_siu_masks_the_target_vocabulary(base_model, batches):
    from baselines._common import answer_kl
    from baselines.siu import target_vocabulary

    forget, retain = batches
    assert value(answer_kl, base_model, base_model, retain) == pytest.approx(0.0, abs=1e-6)
    mask = target_vocabulary(forget, forget["fields"]["refusal"], VOCAB)
    true_ids = set(forget["labels"][forget["labels"] != -100].tolist())
    assert set(mask.nonzero().flatten().tolist()) == true_ids - set(range(30, 40))


@pytest.mark.parametrize("method", ("kl", "npo", "dpo", "siu", "rmu"))
def test_a_method_needing_a_reference_refuses_to_run_without_one(method, base_model, batches):
    forget, retain = batches
    assert "ref" in needs_of(METHODS.get(method), hparams_of(METHODS.get(method)))
    with pytest.raises(UserError, match="reference model"):
        METHODS.get(method)(base_model, forget, retain, ref=None)


def test_a_method_needing_retain_data_refuses_to_run_without_it(base_model, batches):
    forget, _ = batches
    with pytest.raises(UserError, match="retain"):
        METHODS.get("gd")(base_model, forget, None)


def test_every_method_has_a_summary_and_documented_paper():
    assert set(METHODS.names()) >= {"ga", "gd", "kl", "po", "dpo", "npo", "simnpo", "siu", "rmu", "bgd"}
    for name, loss in METHODS.items():
        assert loss.__doc__ and ("Paper" in loss.__doc__ or "PEBench" in loss.__doc__), name


# ------------------------------------------------------------------------------------------ CLI
def run_cli(capsys, *argv):
    from pebench.cli import main

    code = main(["unlearn", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_prints_every_method_with_one_line(capsys):
    code, out, _ = run_cli(capsys, "--list")
    assert code == 0
    lines = out.strip().splitlines()
    assert [line.split()[0] for line in lines] == METHODS.names()
    assert all(len(line.split()) > 3 for line in lines)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"--method": "nope"}, "unknown method 'nope'; choose from: bgd"),
        ({"--set": "bta=1"}, "unknown key(s) bta for method 'gd'; valid keys:"),
        ({"--set": "epochs=many"}, "epochs must be a number"),
        ({"--set": "steps=many"}, "steps must be an integer"),
        ({"--set": "steps=0"}, "steps must be at least 1, got 0"),
        ({"--set": "epochs=0"}, "epochs must be positive, got 0"),
        ({"--set": "epochs=-2"}, "epochs must be positive, got -2"),
        ({"--set": "batch_size=0"}, "batch_size must be at least 1"),
        ({"--set": "select=forget_test"}, "selection rule 'forget_test' names a test split"),
        ({"--set": "select=best"}, "unknown selection rule 'best'; choose from: budget, goal_nll"),
        ({"--set": "retain_tasks=some"}, "retain_tasks must be 'forget' or 'all'"),
        ({"--set": "steps"}, "--set expects KEY=VALUE"),
        ({"--model": "/nonexistent/model"}, "is not a model folder"),
        ({"--config": "person_forget99"}, "unknown forget config 'person_forget99'; choose from:"),
        ({"--data": "/nonexistent/data"}, "is not a pebench dataset folder"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, changes, message):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    args = {"--data": str(tmp_path), "--config": "person_forget05", "--model": str(tmp_path / "model"),
            "--method": "gd", "--out": str(tmp_path / "out"), **changes}
    code, _, err = run_cli(capsys, *[x for pair in args.items() for x in pair])
    assert code == 2
    assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "out").exists()


def test_missing_arguments_are_named(capsys):
    code, _, err = run_cli(capsys, "--method", "ga")
    assert code == 2 and "missing --data, --config, --model, --out" in err


# ------------------------------------------------------------------------------ runs on real data
SHORT = {"steps": 2, "batch_size": 4, "probe_size": 4, "curve_every": 1}


@pytest.fixture(scope="module")
def data_dir(small_data):
    return small_data


@pytest.fixture(scope="module")
def start_model(data_dir, tmp_path_factory):
    """A fresh tiny model for the small dataset (random weights are enough to see parameters move)."""
    from pebench import tiny

    return tiny.create(data_dir, tmp_path_factory.mktemp("models") / "start", preset="tiny", seed=0)


def changed_parameters(before_dir, after_dir):
    from safetensors.torch import load_file

    before, after = load_file(f"{before_dir}/model.safetensors"), load_file(f"{after_dir}/model.safetensors")
    assert before.keys() == after.keys()
    return [name for name in before if not torch.equal(before[name], after[name])]


@pytest.mark.parametrize("method", METHODS.names())
def test_a_short_run_of_every_method_changes_the_model(method, data_dir, start_model, tmp_path):
    from pebench.unlearning import CARD, unlearn

    card = unlearn(data_dir, "person_forget05", start_model, method, tmp_path / "out", overrides=SHORT)
    assert changed_parameters(start_model, tmp_path / "out")
    assert card["method"] == method and card["steps"] == 2 and card["stop"] == {"reason": "budget"}
    assert [p["step"] for p in card["curve"]] == [0, 1, 2]
    assert all(math.isfinite(p["forget_val_nll"]) and math.isfinite(p["retain_val_nll"]) for p in card["curve"])
    assert card["selection"]["rule"] == "budget" and card["selection"]["step"] == 2
    assert card["dataset"]["fingerprint"] and (tmp_path / "out" / CARD).is_file()


def test_the_same_seed_gives_the_same_bytes_and_the_old_relearn_flag_is_gone(data_dir, start_model, tmp_path, capsys):
    from pebench.cli import main

    for name in ("a", "b"):
        argv = ["unlearn", "--data", str(data_dir), "--config", "person_forget05", "--model", str(start_model),
                "--method", "gd", "--out", str(tmp_path / name), "--set", "steps=2",
                "--set", "batch_size=4", "--set", "probe_size=4"]
        assert main(argv) == 0
    a, b = (tmp_path / name / "model.safetensors" for name in ("a", "b"))
    assert a.read_bytes() == b.read_bytes()
    card = json.loads((tmp_path / "a" / "unlearning.json").read_text())
    assert "relearn" not in card and not (tmp_path / "a" / "relearned").exists()
    # relearning is an attack probe now (`pebench evaluate --probes relearn`), not an unlearning setting
    assert main([*argv[:-6], "--out", str(tmp_path / "c"), "--set", "relearn_steps=2"]) == 2
    assert "unknown key(s) relearn_steps" in capsys.readouterr().err and not (tmp_path / "c").exists()


CALLS = {"count": 0}


def diverging_loss(model, forget, retain, ref=None):
    """Test method: plain NLL for three steps, then NaN."""
    CALLS["count"] += 1
    loss = nll(model, forget)
    return loss * float("nan") if CALLS["count"] > 3 else loss


def test_a_diverging_run_stops_with_a_clear_message_and_keeps_the_last_good_model(
        capsys, data_dir, start_model, tmp_path):
    from pebench.cli import main

    CALLS["count"] = 0
    out = tmp_path / "out"
    code = main(["unlearn", "--data", str(data_dir), "--config", "person_forget05", "--model", str(start_model),
                 "--method", f"{__name__}:diverging_loss", "--out", str(out), "--set", "steps=6",
                 "--set", "curve_every=2", "--set", "batch_size=4", "--set", "probe_size=4"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "loss became nan at step 4; kept the last good model (step 2)" in err.strip().splitlines()[-1]
    card = json.loads((out / "unlearning.json").read_text())
    assert card["stop"]["reason"] == "diverged" and card["steps"] == 2
    from safetensors.torch import load_file

    weights = load_file(f"{out}/model.safetensors")
    assert all(torch.isfinite(w).all() for w in weights.values())
    assert changed_parameters(start_model, out)  # steps 1-2 were kept, not the start


def test_a_config_without_retain_data_is_refused_for_methods_that_need_it(capsys, data_dir, start_model, tmp_path):
    import shutil

    from pebench.cli import main

    no_retain = tmp_path / "data"
    shutil.copytree(data_dir, no_retain)
    readme = (no_retain / "README.md").read_text()
    (no_retain / "README.md").write_text(readme.replace("split: retain_train", "split: retain_train_removed"))
    code = main(["unlearn", "--data", str(no_retain), "--config", "person_forget05", "--model", str(start_model),
                 "--method", "gd", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "needs retain data" in err and "Traceback" not in err


def test_the_reproduction_table_is_read_from_the_result_files(tmp_path):
    from pebench.report import write_table

    def result(config, name, efficacy, folder="results"):
        path = tmp_path / folder / config / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        chosen = {"rule": "goal_nll", "step": 10, "budget_steps": 12} if name == "ga" else None
        path.write_text(json.dumps({"aggregates": {"efficacy": efficacy, "generality": efficacy / 2, "retain": 1.5},
                                    "model": {"selection": chosen}}))

    for name, efficacy in (("finetuned", 0.0), ("goal", 100.0), ("ga", 97.25), ("gd", 41.0)):
        result("person_forget05", name, efficacy)
    # `pebench demo` keeps a hidden stage stamp (a JSON list) next to each result: not a row
    (tmp_path / "results" / "person_forget05" / ".ga.json.stage.json").write_text('["evaluate", "..."]')
    card = tmp_path / "models" / "person_forget05" / "ga" / "unlearning.json"
    card.parent.mkdir(parents=True)
    card.write_text(json.dumps({"wall_time_s": 3.25}))
    lines = write_table(tmp_path, ["person_forget05"]).read_text().splitlines()
    rows = [line for line in lines if line.startswith("| ") and not line.startswith("| Method")]
    assert [r.split("|")[1].strip() for r in rows] == ["Finetune", "GA", "GD", "Goal"]
    assert rows[1] == "| GA | 97.25 | 48.62 | 1.50 |  |  | 10 of 12 (goal_nll) | 3.2 |"
    assert rows[2].startswith("| GD | 41.00 | 20.50 | 1.50 |")


# ------------------------------------------------------------------------ budget and selection rule
def test_the_budget_is_passes_over_forget_train_and_validation_rows_are_training_side(data_dir, start_model, tmp_path):
    from pebench.data import load_split
    from pebench.unlearning import unlearn, validation_rows

    forget = load_split(data_dir, "person_forget05", "forget_train")
    card = unlearn(data_dir, "person_forget05", start_model, "ga", tmp_path / "out",
                   overrides={"epochs": 1.0, "batch_size": 4, "probe_size": 4, "curve_every": 1})
    assert card["budget"] == {"epochs": 1.0, "steps": math.ceil(len(forget) / 4), "rows_per_step": 4,
                              "forget_rows": len(forget)}
    assert card["steps"] == card["budget"]["steps"] and card["selection"]["rule"] == "budget"
    probes, retain = validation_rows(data_dir, "person_forget05", 4)
    retain_train = load_split(data_dir, "person_forget05", "retain_train")
    held = {r["id"] for r in probes["retain_val"]}
    assert {r["id"] for r in probes["forget_val"]} <= set(forget["id"]) and held <= set(retain_train["id"])
    assert set(retain["task"]) == set(forget["task"]) and not held & set(retain["id"])  # never trained on
    _, every = validation_rows(data_dir, "person_forget05", 4, retain_tasks="all")
    assert len(every) == len(retain_train) - 4 and len(set(every["task"])) > 1


def test_rule_goal_nll_stops_at_the_goal_models_forget_level_and_needs_the_goal(capsys, data_dir, start_model,
                                                                                 tmp_path):
    from pebench.cli import main
    from pebench.unlearning import unlearn

    settings = {"steps": 30, "batch_size": 4, "probe_size": 4, "curve_every": 1, "lr": 1e-3, "select": "goal_nll"}
    argv = ["unlearn", "--data", str(data_dir), "--config", "person_forget05", "--model", str(start_model),
            "--method", "ga", "--out", str(tmp_path / "x"), "--set", "select=goal_nll"]
    assert main(argv) == 2 and "needs the goal model: pass --goal" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    # the start model stands in for a goal: gradient ascent passes its forget NLL after the first step
    card = unlearn(data_dir, "person_forget05", start_model, "ga", tmp_path / "out", overrides=settings,
                   goal=start_model)
    chosen = card["selection"]
    assert card["stop"]["reason"] == "rule" and chosen["reached"] and 1 <= chosen["step"] < 30
    assert chosen["forget_val_nll"] >= chosen["goal_forget_val_nll"]
    assert all(p["forget_val_nll"] < chosen["goal_forget_val_nll"] for p in card["curve"][1:-1])
    assert chosen["goal_forget_val_nll"] == pytest.approx(card["curve"][0]["forget_val_nll"], rel=1e-5)


def test_choosing_a_setting_reads_validation_numbers_only():
    from pebench.selection import choose

    def card(forget, retain, goal=2.0):
        return {"selection": {"forget_val_nll": forget, "retain_val_nll": retain, "goal_forget_val_nll": goal},
                "curve": [{"forget_val_nll": 0.5}]}

    # b forgot (reached the goal's level) and kept retain best; c kept retain better but never forgot
    settings = {"a": [card(3.0, 2.5), card(2.5, 2.7)], "b": [card(2.2, 1.1), card(2.4, 1.3)],
                "c": [card(1.0, 0.6), card(1.2, 0.6)]}
    assert choose(settings) == "b"
    assert choose({"c": settings["c"], "d": [card(1.5, 3.0)]}) == "d"  # none forgot: the closest
