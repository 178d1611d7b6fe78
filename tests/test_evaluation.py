"""Evaluation on the tiny models: PEBench's Finetune and Goal rows, recomputation, determinism, CLI errors."""
import json
import shutil
from pathlib import Path

import pytest

from pebench import results
from pebench.cli import main
from pebench.evaluation import evaluate

CONFIG = "person_forget05"
FAST = dict(max_new_tokens=16, bootstrap=200, progress=False)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("eval-cache")


@pytest.fixture(scope="module")
def scored(small_data, tiny_finetuned, tiny_goal, cache):
    """The fine-tuned model with both references (the goal model is scored once, into the cache)."""
    return evaluate(small_data, CONFIG, tiny_finetuned, goal=tiny_goal, finetuned=tiny_finetuned,
                    cache_dir=cache, **FAST)


def test_finetuned_forgets_nothing_and_goal_forgets_everything(scored, small_data, tiny_finetuned):
    """PEBench v1 Table 1: Finetune efficacy 0.0 and Goal efficacy 100 on person unlearning."""
    finetuned, goal = scored["aggregates"], scored["reference"]["goal"]
    print("\nrow       efficacy generality retain scope world  answer-prob(forget)")
    for name, row in (("Finetune", finetuned), ("Goal", goal)):
        print(f"{name:9s} " + " ".join(f"{row[k]:8.2f}" for k in results.headline({"aggregates": row}))
              + f"  {row['tofu_answer_prob_forget']:.3f}")
    assert goal["efficacy"] >= 80.0 and goal["generality"] >= 80.0  # never saw the forget person's name
    assert finetuned["tofu_answer_prob_forget"] > 2 * goal["tofu_answer_prob_forget"]  # trained on the name
    assert scored["normalized"]["tofu_answer_prob_forget"] == 0.0  # the fine-tuned model is its own 0 reference
    assert scored["model"]["method"] == "finetuned" and scored["dataset"]["target"] == "person"
    hits = [r["score"] for r in scored["records"] if r["split"] == "forget_train"]
    if not any(hits):  # the tiny fixture learns names only partly (see the README's known limits)
        pytest.skip(f"the fine-tuned fixture names the forget person in 0/{len(hits)} forget_train images, "
                    "so the Finetune row cannot be checked (model fixture)")
    # PEBench's rows: Finetune efficacy far below Goal's (0 vs 100 there; the tiny fixture names the
    # forget person in about half of its 4 images, so ask for at least a 25-point gap)
    assert finetuned["efficacy"] <= goal["efficacy"] - 25.0, finetuned


def test_truth_ratio_measures_knowledge_not_the_answer_template(scored):
    """TOFU's truth ratio with perturbed answers in the paraphrase's template: the fine-tuned model prefers
    the truth on retain items, the goal model has no preference on the forget person's items, and forget
    quality tells the two apart."""
    import math
    import statistics

    from pebench.metrics.truth_ratio import item_ratios

    retain = item_ratios([r for r in scored["records"] if r["split"] == "retain_test" and r["task"] == "person_name"])
    goal_forget = list(scored["reference_info"]["goal"]["truth_ratio"].values())
    mine_forget = item_ratios([r for r in scored["records"] if r["split"] == "forget_train"])
    print(f"\nretain R < 1: {sum(r < 1 for r in retain.values())}/{len(retain)}; goal forget |log R| median "
          f"{statistics.median(abs(math.log(r)) for r in goal_forget):.3f}, fine-tuned forget |log R| median "
          f"{statistics.median(abs(math.log(r)) for r in mine_forget.values()):.3f}; forget quality "
          f"{scored['aggregates']['forget_quality']:.3g}")
    assert sum(r < 1 for r in retain.values()) > 0.75 * len(retain)
    assert statistics.median(abs(math.log(r)) for r in goal_forget) < 0.5  # R near 1: no preference
    assert scored["aggregates"]["forget_quality"] < 0.1  # the fine-tuned model is not the goal model


def test_result_is_valid_and_recomputes_exactly(scored, small_data):
    results.validate(scored)
    fresh = results.recompute(json.loads(json.dumps(scored)), small_data)
    assert fresh["aggregates"] == scored["aggregates"]
    assert fresh["ci95"] == scored["ci95"] and fresh["normalized"] == scored["normalized"]
    assert fresh == scored
    tampered = json.loads(json.dumps(scored))
    first = next(r for r in tampered["records"] if r["split"] == "forget_train")
    first["prediction"] = "This is " + ("nobody" if first["score"] else _name(small_data, first["id"])) + "."
    assert results.recompute(tampered, small_data)["aggregates"]["efficacy"] != scored["aggregates"]["efficacy"]


def _name(data_dir, row_id):
    from pebench.data import load_rows

    rows = load_rows(data_dir, CONFIG, "forget_train")
    return next(r["person_name"] for r in rows if r["id"] == row_id)


def test_records_cover_every_row_and_hold_what_metrics_need(scored, small_data):
    by_split = {}
    for record in scored["records"]:
        by_split.setdefault(record["split"], set()).add(record["id"])
    for split, ids in by_split.items():
        assert ids == set(results.split_ids(str(small_data), CONFIG, split)), split
    train = [r for r in scored["records"] if r["split"] == "forget_train"]
    assert all(r["logprobs"] and len(r["mean"]) == len(r["logprobs"]) for r in train)
    assert any("perturbed_nll" in r for r in train)
    assert all(r["prediction"] is None for r in scored["records"] if r["split"] == "holdout")
    for key in ("mia_auc_loss", "mia_auc_min_k_plus_plus", "tofu_truth_ratio_forget", "world", "world_f1",
                "forget_quality", "privleak_loss"):
        assert key in scored["aggregates"], key
    assert all(scored["ci95"][k][0] <= scored["ci95"][k][1] for k in results.headline(scored))


@pytest.mark.parametrize("config, cells", [
    ("event_forget05", ("efficacy", "generality", "retain", "scope", "world")),
    ("joint_forget05", ("person_efficacy", "event_efficacy", "person_retain", "event_retain", "leakage")),
])
def test_event_and_joint_targets_evaluate_and_recompute(small_data, tiny_finetuned, config, cells):
    """Every target scores end to end; an event target has no profile facts to leak (found on a full run)."""
    result = evaluate(small_data, config, tiny_finetuned, **FAST)
    assert all(c in result["aggregates"] for c in cells), sorted(result["aggregates"])
    has_profile = any(r["split"] == "forget_profile" for r in result["records"])
    assert has_profile == config.startswith("joint")
    assert results.recompute(result, small_data)["aggregates"] == result["aggregates"]


def test_scoring_is_deterministic_and_reference_is_cached(scored, tiny_finetuned, cache):
    cached = [json.loads(p.read_text()) for p in Path(cache).glob(f"{Path(tiny_finetuned).name}-*.json")]
    assert len(cached) == 1  # the fine-tuned reference, computed once
    assert cached[0]["records"] == scored["records"]  # a second scoring run gives the same records
    assert len(list(Path(cache).glob("*.json"))) == 2  # + the goal model


def test_cli_writes_a_result_and_takes_a_result_file_as_reference(small_data, tiny_finetuned, tmp_path, scored):
    ref = tmp_path / "ref.json"
    ref.write_text(json.dumps(scored))
    out = tmp_path / "r.json"
    argv = ["evaluate", "--data", str(small_data), "--config", CONFIG, "--model", str(tiny_finetuned), "--goal",
            str(ref), "--out", str(out), "--limit", "2", "--bootstrap", "0", "--max-new-tokens", "8", "--quiet"]
    assert main(argv) == 0
    first = out.read_bytes()
    result = results.load(out)
    lent = {k: v for k, v in scored["aggregates"].items() if k not in results.reference_dependent("person")}
    assert result["reference"]["goal"] == lent and result["ci95"] == {}  # minus forget quality, privleak
    assert result["reference_info"]["goal"]["sha256"] == results.digest(scored)
    assert main(argv) == 0 and out.read_bytes() == first  # same inputs, same bytes


def _cli_error(capsys, argv, out):
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error" in line.lower()]
    assert len(lines) == 1 and lines[0].startswith("pebench evaluate: error: ") and "Traceback" not in err
    assert not Path(out).exists()
    return lines[0]


@pytest.mark.parametrize("args, message", [
    (["--config", "person_forget99"], "unknown config"),
    (["--config", "event_forget05", "--model", "/nonexistent/model"], "not a model folder"),
    (["--goal", "{tmp}/bad.json"], "unreadable"),
    (["--goal", "{tmp}/missing"], "neither a model folder nor a result file"),
    (["--batch-size", "0"], "at least 1"),
    (["--judge", "nope"], "unknown judge"),
])
def test_cli_bad_input_is_one_line_exit_2(capsys, small_data, tiny_finetuned, tmp_path, args, message):
    (tmp_path / "bad.json").write_text("{not json")
    out = tmp_path / "out.json"
    argv = ["evaluate", "--data", str(small_data), "--config", CONFIG, "--model", str(tiny_finetuned),
            "--out", str(out), "--quiet"]
    argv += [a.format(tmp=tmp_path) for a in args]
    assert message in _cli_error(capsys, argv, out)


def test_model_trained_on_another_dataset_is_refused(capsys, small_data, tiny_finetuned, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_finetuned, model)
    card = json.loads((model / "pebench_train.json").read_text())
    card["dataset"]["fingerprint"] = "0" * 64
    (model / "pebench_train.json").write_text(json.dumps(card))
    out = tmp_path / "out.json"
    err = _cli_error(capsys, ["evaluate", "--data", str(small_data), "--config", CONFIG, "--model", str(model),
                              "--out", str(out)], out)
    assert "trained on dataset 0000" in err


def test_missing_unreadable_and_empty_splits_are_refused(capsys, small_data, tiny_finetuned, tmp_path,
                                                          monkeypatch):
    import datasets
    import pyarrow.parquet as pq
    import yaml

    from pebench.schema import QA_FEATURES

    data = tmp_path / "data"
    shutil.copytree(small_data, data)
    pq.write_table(QA_FEATURES.arrow_schema.empty_table(), str(data / "data" / "empty.parquet"))
    card = (data / "README.md").read_text()
    _, header, body = card.split("---", 2)
    meta = yaml.safe_load(header)
    config = next(c for c in meta["configs"] if c["config_name"] == CONFIG)
    next(f for f in config["data_files"] if f["split"] == "forget_test")["path"] = ["data/empty.parquet"]
    (data / "README.md").write_text("---\n" + yaml.safe_dump(meta, sort_keys=False) + "---" + body)
    out = tmp_path / "out.json"
    argv = ["evaluate", "--data", str(data), "--config", CONFIG, "--model", str(tiny_finetuned), "--out", str(out)]
    err = _cli_error(capsys, argv, out)  # datasets cannot read a 0-row parquet file (it prepares every split)
    assert "cannot read split" in err and "person_forget05" in err
    config["data_files"] = [f for f in config["data_files"] if f["split"] != "forget_test"]
    (data / "README.md").write_text("---\n" + yaml.safe_dump(meta, sort_keys=False) + "---" + body)
    assert "no split 'forget_test'" in _cli_error(capsys, argv, out)
    (data / "metadata.json").unlink()
    assert "not a pebench dataset folder" in _cli_error(capsys, argv, out)

    real = datasets.load_dataset

    def empty_forget_test(path, name, split=None, **kw):
        if split == "forget_test":
            return datasets.Dataset.from_dict({k: [] for k in QA_FEATURES}, features=QA_FEATURES)
        return real(path, name, split=split, **kw)

    monkeypatch.setattr(datasets, "load_dataset", empty_forget_test)
    argv[2] = str(small_data)
    assert "split 'forget_test' of config 'person_forget05' is empty" in _cli_error(capsys, argv, out)
