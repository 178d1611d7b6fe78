"""Model cards in every trained and unlearned folder (hub metadata that round-trips, training
facts, headline numbers from results), and `--report-to` reaching the Trainer (TensorBoard offline)."""
import importlib.util
import json
import struct
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

from pebench import cards
from pebench.cli import main
from pebench.evaluation import evaluate

TENSORBOARD = any(importlib.util.find_spec(m) for m in ("tensorboard", "tensorboardX"))
# unlearning small enough for seconds: 2 steps of 4 rows
SHORT = ["--set", "steps=2", "--set", "batch_size=4", "--set", "probe_size=4"]


def round_trips(folder):
    """The card loads with huggingface_hub and its metadata survives a dump and a load."""
    card = ModelCard.load(Path(folder, cards.README))
    assert ModelCard(str(card)).data.to_dict() == card.data.to_dict()
    assert card.data.library_name == "transformers" and card.data.pipeline_tag == "image-text-to-text"
    return card


def event_tags(folder):
    """Scalar tags in the TensorBoard event files under `folder` (TFRecord framing, Event protos)."""
    from tensorboardX.proto import event_pb2

    tags = set()
    for path in Path(folder).rglob("events.out.tfevents.*"):
        raw, i = path.read_bytes(), 0
        while i < len(raw):
            (length,) = struct.unpack("<Q", raw[i:i + 8])
            event = event_pb2.Event.FromString(raw[i + 12:i + 12 + length])
            tags |= {value.tag for value in event.summary.value}
            i += 12 + length + 4
    return tags


def test_trained_models_carry_a_card_with_their_training_facts(tiny_finetuned, tiny_goal, tmp_path):
    for folder, tag in ((tiny_finetuned, "fine-tuned"), (tiny_goal, "goal-model")):
        card = round_trips(folder)
        facts = json.loads(Path(folder, cards.TRAIN_CARD).read_text())
        assert tag in card.data.tags and card.data.license == "apache-2.0"  # a preset: no base model's licence
        assert card.data.base_model is None  # a random-init preset is no hub model
        for fact in (f"| steps | {facts['steps']} |", f"| seed | {facts['seed']} |",
                     facts["dataset"]["fingerprint"], "| lr |", "Not evaluated"):
            assert fact in card.text, fact
        assert str(tmp_path.parent) not in card.content  # no absolute paths


def test_unlearned_folders_carry_cards_and_tensorboard_logs(small_data, tiny_finetuned, tmp_path):
    out = tmp_path / "gd"
    report = ["--report-to", "tensorboard"] if TENSORBOARD else []
    assert main(["unlearn", "--data", str(small_data), "--config", "person_forget05", "--model", str(tiny_finetuned),
                 "--method", "gd", "--out", str(out), *SHORT, *report]) == 0
    card = round_trips(out)
    assert "unlearned" in card.data.tags and not (out / "relearned").exists()
    for fact in ("| method | `gd` |", "hparam `retain_weight`", "| steps | 2 |", "| config | `person_forget05` |",
                 "forget_val NLL", "| selection | rule `budget` kept step 2 |"):
        assert fact in card.text, fact
    assert "relearn" not in card.text  # the relearning attack is a probe of the evaluation now
    if TENSORBOARD:
        assert {"train/loss", "train/learning_rate"} <= event_tags(out / "runs")
        assert not list(tmp_path.glob(".*"))  # the staging folder moved into the model folder


def test_train_reports_to_tensorboard_and_a_missing_integration_is_one_line(small_data, tmp_path, capsys):
    from pebench.training import trainer_arguments

    args = trainer_arguments(tmp_path / "w", 0, report_to="tensorboard" if TENSORBOARD else "none")
    assert args.report_to == (["tensorboard"] if TENSORBOARD else [])
    assert trainer_arguments(tmp_path / "w", 0).report_to == []  # default: no reporting, as before
    if TENSORBOARD:
        out = tmp_path / "ft"
        assert main(["train", "--data", str(small_data), "--config", "person_forget05", "--subset", "full",
                     "--model", "tiny", "--out", str(out), "--epochs", "1", "--quiet", "--report-to",
                     "tensorboard"]) == 0
        assert "train/train_loss" in event_tags(out / "runs") and (out / cards.README).is_file()
    if importlib.util.find_spec("wandb") is None:
        code = main(["train", "--data", str(small_data), "--config", "person_forget05", "--subset", "full",
                     "--out", str(tmp_path / "w2"), "--report-to", "wandb"])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and err[-1].endswith("--report-to wandb needs the wandb package: pip install wandb "
                                              "(or pip install 'pebench[tracking]')")
        assert not (tmp_path / "w2").exists()


@pytest.fixture(scope="module")
def result_file(small_data, tiny_finetuned, tmp_path_factory):
    """A quick result of the fine-tuned fixture (4 rows a split, no bootstrap)."""
    result = evaluate(small_data, "person_forget05", tiny_finetuned, limit=4, bootstrap=0, max_new_tokens=8,
                      progress=False)
    path = tmp_path_factory.mktemp("result") / "finetuned.json"
    path.write_text(json.dumps(result))
    return path


def test_publishing_a_model_puts_its_headline_numbers_in_the_card(tiny_finetuned, result_file, tmp_path, capsys):
    from pebench.results import headline

    out = tmp_path / "upload"
    assert main(["publish", "--model", str(tiny_finetuned), "--repo", "me/pebench-ft", "--result", str(result_file),
                 "--dataset-repo", "me/pebench", "--dry-run", str(out)]) == 0
    card = round_trips(out)
    numbers = {r.metric_type: r.metric_value for r in card.data.eval_results}
    expected = {k: round(v, 6) for k, v in headline(json.loads(result_file.read_text())).items() if v is not None}
    assert numbers == expected and card.data.datasets == ["me/pebench"]
    assert card.data.eval_results[0].dataset_config == "person_forget05"
    assert "| `person_forget05` |" in card.text and 'from_pretrained("me/pebench-ft")' in card.text
    weights = "model.safetensors"
    assert (out / weights).read_bytes() == Path(tiny_finetuned, weights).read_bytes()
    assert (out / cards.TRAIN_CARD).is_file() and not list(out.glob(".*"))


def test_a_result_of_another_model_or_a_base_for_a_preset_is_refused(tiny_finetuned, result_file, tmp_path, capsys):
    other = json.loads(result_file.read_text())
    other["model"]["method"] = "gd"
    (tmp_path / "other.json").write_text(json.dumps(other))
    for extra, message in ((["--result", str(tmp_path / "other.json")], "is for method 'gd'"),
                           (["--base-model", "me/base"], "has no base model to name")):
        assert main(["publish", "--model", str(tiny_finetuned), "--repo", "me/ft", *extra, "--dry-run",
                     str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1
        assert not (tmp_path / "out").exists()
