"""Fine-tune (`subset="full"`) and goal (`subset="retain"`) training with `transformers.Trainer`.

As in TOFU, one fine-tuned model trained on the `full` config's `train` split serves every forget
config; the goal model (the retrain upper bound) trains on one forget config's `retain_train` only.
The collator is the adapter's `encode`, so the loss covers answer tokens only and every model input
(pixel values included) reaches `model(**batch)`.

Checkpoints of a running job live beside the output in `.{out}.work/`; `resume=True` continues from the
last one after an interruption. The final model is written atomically (temporary folder + rename) with
a JSON card `pebench_train.json` next to the weights.
"""
import json
import os
import shutil
import sys
import time
from pathlib import Path

import pebench
from pebench import data, distributed
from pebench.adapter import with_lora
from pebench.cards import write_model_card
from pebench.errors import UserError
from pebench.io import atomic_dir, atomic_write_json, check_output_dir, file_sha256, portable_path
from pebench.schema import EVENT_DESCRIPTION, FORGET_CONFIGS, PERSON_NAME

CARD = "pebench_train.json"
PRETRAIN_CARD = "pebench_pretrain.json"
SUBSETS = ("full", "retain")
# Defaults per starting point. A tiny preset is random-init (high lr, many epochs), sized for the data it
# is meant for: `tiny` for the tests' 12 x 6 and 20 x 8 builds, `small` for the demo's 50 x 10. A pebench
# base (`pebench pretrain`) trains like its preset. A pretrained checkpoint only needs to learn the
# fictitious data (TOFU-like lr and epochs).
DEFAULTS = {
    "tiny": dict(epochs=40, lr=3e-3, batch_size=32, warmup=0.03, weight_decay=0.0),
    "small": dict(epochs=20, lr=1e-3, batch_size=32, warmup=0.03, weight_decay=0.0),
    "checkpoint": dict(epochs=5, lr=1e-5, batch_size=8, warmup=0.03, weight_decay=0.01),
}
SAVE_STEPS = 200


def train_rows(data_dir, config, subset):
    """The training split: `full/train` for `subset="full"`, `CONFIG/retain_train` for `"retain"`."""
    if subset not in SUBSETS:
        raise UserError(f"unknown subset {subset!r}; choose from: {', '.join(SUBSETS)}")
    valid = ("full", *FORGET_CONFIGS) if subset == "full" else tuple(FORGET_CONFIGS)
    if config not in valid:
        raise UserError(f"unknown config {config!r} for subset {subset!r}; choose from: {', '.join(valid)}")
    name, split = ("full", "train") if subset == "full" else (config, "retain_train")
    return data.load_split(data_dir, name, split)


REPLAY_FILE = "replay.parquet"  # a pretrained base's sample of its own corpus (`pebench pretrain`)


def replay_rows(model, count, features):
    """The first `count` of a pretrained base's replay rows (generic scenes, no person of the release), cast
    to the release's `features`; one clear error when the base has none, too few, or a changed file."""
    if count < 0:
        raise UserError(f"--replay must be >= 0 rows, got {count}")
    card_path = Path(model, PRETRAIN_CARD)
    entry = json.loads(card_path.read_text()).get("replay") if card_path.is_file() else None
    if not entry:
        raise UserError(f"--replay needs a pebench base made by `pebench pretrain`; {model} holds no replay rows")
    path = Path(model, entry["file"])
    if not path.is_file() or file_sha256(path) != entry["sha256"]:
        raise UserError(f"base {model}: {entry['file']} is missing or does not match the sha256 in {PRETRAIN_CARD}")
    if count > entry["rows"]:
        raise UserError(f"--replay {count}: base {model} holds {entry['rows']} replay rows")
    import datasets

    rows = datasets.Dataset.from_parquet(str(path), keep_in_memory=True)
    return rows.select(range(count)).cast(features), {"rows": count, "sha256": entry["sha256"]}


def load_base(model, data_dir, work, seed):
    """(adapter, kind, defaults key) for `model`: a preset name (built for this dataset, saved in
    `work/base`), a pebench base folder (checked against the dataset) or a checkpoint folder."""
    from pebench import tiny
    from pebench.adapter import VLM

    if model in tiny.PRESETS:
        base = Path(work, "base")
        with distributed.main_process_first():  # the other ranks load the base the main one built
            if not (base / "config.json").is_file():  # a resumed run keeps its first base model
                tiny.create(data_dir, base, model, seed)
        return VLM.from_pretrained(base, dtype="float32"), "preset", model
    if Path(model, PRETRAIN_CARD).is_file():  # `train` checked it (`check_base`) before reading any data
        preset = json.loads(Path(model, PRETRAIN_CARD).read_text())["preset"]
        return VLM.from_pretrained(model, dtype="float32"), "base", preset
    return VLM.from_pretrained(model, dtype="float32"), "checkpoint", "checkpoint"


def weights_fingerprint(folder):
    """sha256 over the weight and tokenizer files of a model folder: what a base's id promises."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(Path(folder).glob("*.safetensors")) + [Path(folder, "tokenizer.json")]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def check_base(model, data_dir):
    """The base's preset; refuses a base made for another dataset, or whose weights are not its card's."""
    card = json.loads(Path(model, PRETRAIN_CARD).read_text())
    if card.get("dataset", {}).get("fingerprint") != data.fingerprint(data_dir):
        raise UserError(f"base {model} was pretrained for dataset {str(card.get('dataset', {}).get('fingerprint'))[:12]}, "
                        f"not {data.fingerprint(data_dir)[:12]} (its tokenizer covers that release): pretrain one "
                        f"for this dataset with `pebench pretrain`")
    if card.get("fingerprint") != weights_fingerprint(model):
        raise UserError(f"base {model}: its weights do not match the fingerprint in {PRETRAIN_CARD} (changed after "
                        f"pretraining?)")
    return card["preset"]


def trainer_arguments(workdir, seed, progress=False, report_to="none", **settings):
    """The one `TrainingArguments` builder (training and unlearning): pebench's fixed choices + `settings`.

    Fixed: seeded data order, no column pruning (the collator needs the rows), no worker processes, bf16
    where CUDA supports it, CPU otherwise. `report_to`: "none" or one Trainer integration
    (`pebench.tracking.REPORT_TO`).
    """
    import torch
    from transformers import TrainingArguments

    from pebench.tracking import report_to as integrations

    cuda = torch.cuda.is_available()
    fixed = dict(output_dir=str(workdir), seed=seed, data_seed=seed, remove_unused_columns=False,
                 report_to=integrations(report_to),
                 dataloader_num_workers=0, disable_tqdm=not progress, use_cpu=not cuda,
                 bf16=cuda and torch.cuda.is_bf16_supported())
    return TrainingArguments(**{**fixed, **settings})


def training_arguments(work, settings, seed, progress, save_steps=SAVE_STEPS, report_to="none"):
    """Arguments of a training run: epochs, cosine schedule, a resumable checkpoint every `save_steps`."""
    return trainer_arguments(
        Path(work, "trainer"), seed, progress, report_to, num_train_epochs=settings["epochs"],
        per_device_train_batch_size=settings["batch_size"], learning_rate=settings["lr"],
        warmup_steps=settings["warmup"], weight_decay=settings["weight_decay"], lr_scheduler_type="cosine",
        save_strategy="steps", save_steps=save_steps, save_total_limit=1, logging_steps=10)


def answer_mean_loss(logits, labels, kept=None):
    """Mean over rows of each row's mean answer-token NLL (labels -100 outside the answer).

    Why: the default loss averages over every answer token of the batch, so a 40-token scene
    description outweighs a 5-token name eight times and names are barely learnt (demo data, `small`,
    15 epochs: 2.8 % retain name precision with token averaging, 41.7 % with this per-answer mean).

    Args:
        logits: `(batch, length, vocab)`, or `(batch, len(kept), vocab)` when `kept` is given.
        labels: `(batch, length)`.
        kept: the positions `logits` holds (`answer_positions(labels)`); None when it holds all.
    """
    from pebench.nll import answer_token_nll, per_answer_mean

    return per_answer_mean(*answer_token_nll(logits, labels, kept)).mean()


def answer_positions(labels):
    """Sequence positions whose next token is an answer token in some row: the only logits the loss needs.

    Why: the LM head and softmax over the whole prompt (64 image tokens + question) are wasted work;
    `logits_to_keep` computes them for these positions only (a 50 x 10 `small` run: 398 -> 358 s).
    """
    return (labels[:, 1:] != -100).any(0).nonzero().squeeze(1)


def accepts_logits_to_keep(model):
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # peft wrappers
    return "logits_to_keep" in inspect.signature(base.forward).parameters


def answer_loss(model, inputs, keep_answer_logits=True):
    """(`answer_mean_loss`, model outputs) for a collated batch; the training step's loss.

    `keep_answer_logits`: compute logits at `answer_positions` only; needs a model whose forward takes
    `logits_to_keep` (see `accepts_logits_to_keep`).
    """
    inputs = dict(inputs)
    labels = inputs.pop("labels")
    if not keep_answer_logits:
        outputs = model(**inputs)
        return answer_mean_loss(outputs.logits, labels), outputs
    kept = answer_positions(labels)
    outputs = model(**inputs, logits_to_keep=kept)
    return answer_mean_loss(outputs.logits, labels, kept), outputs


def resumable_trainer(**kwargs):
    """A `transformers.Trainer` that weighs every answer equally and resumes through `from_pretrained`.

    Checkpoints store some families under their legacy key names (LLaVA: `language_model.model.*`);
    the stock resume loads them with a non-strict `load_state_dict`, which (transformers 5.23) skips
    every key and silently resumes from the *initial* weights. `from_pretrained` applies the renaming.
    The loss is `answer_mean_loss` (see there why), on logits of the answer positions only where the
    model's forward takes `logits_to_keep` (most transformers VLMs do).
    """
    from transformers import PreTrainedModel, Trainer

    class ResumableTrainer(Trainer):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.model_accepts_loss_kwargs = False  # our loss is a per-batch mean: let the Trainer scale it
            self.keep_answer_logits = accepts_logits_to_keep(self.model)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss, outputs = answer_loss(model, inputs, self.keep_answer_logits)
            return (loss, outputs) if return_outputs else loss

        def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
            model = self.model if model is None else model
            if not isinstance(model, PreTrainedModel):  # peft adapters: the stock path handles them
                return super()._load_from_checkpoint(resume_from_checkpoint, model)
            dtype = next(model.parameters()).dtype
            saved = type(model).from_pretrained(resume_from_checkpoint, dtype=dtype)
            model.load_state_dict(saved.state_dict(), strict=True)

    return ResumableTrainer(**kwargs)


def train(data_dir, config, subset, model, out, epochs=None, lr=None, batch_size=None, seed=0, lora=0,
          resume=False, overwrite=False, progress=True, save_steps=SAVE_STEPS, callbacks=(), report_to="none",
          replay=0):
    """Train `model` (a preset name or a checkpoint folder) on the chosen subset and save it to `out`.

    `replay`: rows of the pretrained base's own corpus mixed into the training rows (`replay_rows`).
    `save_steps` sets how often a resumable checkpoint is written; `callbacks` are extra
    `TrainerCallback`s (progress hooks, tests that interrupt a run); `report_to` names a Trainer
    integration (`pebench.tracking`). The folder gets a model card (`pebench.cards`) beside the JSON card.

    Returns:
        the JSON card written to `out/pebench_train.json`.
    """
    from transformers import set_seed

    check_output_dir(out, overwrite)
    if Path(model, PRETRAIN_CARD).is_file():
        check_base(model, data_dir)  # before any data is read: a wrong base is one line, nothing else
    rows = train_rows(data_dir, config, subset)
    mixed = None
    if replay:
        import datasets

        extra, mixed = replay_rows(model, replay, rows.features)
        rows = datasets.concatenate_datasets([rows, extra])
    work = Path(out).resolve().parent / f".{Path(out).name}.work"
    if not resume and work.exists() and distributed.is_main():
        shutil.rmtree(work)
    distributed.wait()
    last = _last_checkpoint(work) if resume else None
    if resume and last is None:
        print(f"pebench train: no checkpoint in {work}; starting from scratch", file=sys.stderr)
    set_seed(seed)
    vlm, kind, defaults = load_base(model, data_dir, work, seed)
    settings = {**DEFAULTS[defaults], **{k: v for k, v in dict(epochs=epochs, lr=lr, batch_size=batch_size).items()
                                     if v is not None}}
    check_settings(settings)
    start = time.time()
    trained, facts = fit_rows(vlm, rows, settings, work, seed, lora, last, progress, save_steps, callbacks, report_to)
    card = {
        "config": config, "subset": subset, "seed": seed, "model_kind": kind,
        "model": portable_path(model, out) if kind != "preset" else str(model), "base": base_of(model),
        "lora_rank": lora, "training": settings, "rows": len(rows), "replay": mixed, **facts,
        "dataset": {"fingerprint": data.fingerprint(data_dir)},  # the fingerprint names the data, not a path
        "resumed_from": last.name if last else None, "wall_time_s": round(time.time() - start, 2),
        "versions": pebench.versions(), "distributed": distributed.run_info(settings["batch_size"]),
    }
    if distributed.is_main():  # one writer; the other ranks wait below
        save_model(vlm, trained, out, CARD, card, overwrite)
        shutil.rmtree(work, ignore_errors=True)
    distributed.wait()
    return card


def check_settings(settings):
    """One clear error for settings that cannot train (epochs, lr or batch size not positive)."""
    for key in ("epochs", "lr", "batch_size"):
        if not settings[key] > 0:
            raise UserError(f"{key} must be positive, got {settings[key]}")


def fit_rows(vlm, rows, settings, work, seed, lora=0, last=None, progress=True, save_steps=SAVE_STEPS,
             callbacks=(), report_to="none"):
    """Train `vlm.model` on `rows` (any rows the adapter encodes); returns (trained model, card facts)."""
    if lora:
        vlm.model = with_lora(vlm.model, lora)
    args = training_arguments(work, settings, seed, progress, save_steps, report_to)
    trainer = resumable_trainer(model=vlm.model, args=args, train_dataset=rows, data_collator=vlm.collator,
                                callbacks=list(callbacks))
    result = trainer.train(resume_from_checkpoint=str(last) if last else None)
    trained = trainer.model.merge_and_unload() if lora else trainer.model
    return trained, {"steps": trainer.state.global_step, "parameters": sum(p.numel() for p in trained.parameters()),
                     "final_loss": _final_loss(trainer.state.log_history),
                     "train_loss": round(result.training_loss, 6)}


def save_model(vlm, model, out, card_name, card, overwrite=False):
    """Weights, processor, JSON card and model card into `out`, atomically."""
    with atomic_dir(out, overwrite) as tmp:
        model.save_pretrained(tmp)
        vlm.processor.save_pretrained(tmp)
        atomic_write_json(Path(tmp, card_name), card)
        write_model_card(tmp)


def base_of(model):
    """{"id", "fingerprint"} of the pretrained base a model descends from (None for a fresh preset)."""
    path = Path(model)
    for name in (PRETRAIN_CARD, CARD, "unlearning.json"):
        card = path / name
        if card.is_file():
            found = json.loads(card.read_text())
            return found.get("base") if name != PRETRAIN_CARD else {"id": found["id"], "fingerprint": found["fingerprint"]}
    return None


def learnability(model_dir, data_dir, config, splits=("forget_test", "forget_unseen", "retain_test"),
                 limit=None, batch_size=32, max_new_tokens=48):
    """Greedy-generation checks that a model learnt the data: name precision and ROUGE-L per split.

    Name precision (`pebench.metrics.name_precision`, in percent) on `person_name` rows; ROUGE-L =
    mean stemmed ROUGE-L recall (`pebench.metrics.rouge_l_recall`) of `event_description` answers.
    """
    from pebench.adapter import VLM
    from pebench.metrics.name_precision import name_precision
    from pebench.metrics.rouge_l import rouge_l_recall

    vlm = VLM.from_pretrained(model_dir)
    scores = {}
    for split in splits:
        ds = data.load_split(data_dir, config, split)
        for task in (PERSON_NAME, EVENT_DESCRIPTION):
            rows = list(ds.select([i for i, t in enumerate(ds["task"]) if t == task][:limit]))
            if not rows:
                continue
            predictions = vlm.generate(rows, max_new_tokens=max_new_tokens, batch_size=batch_size)
            if task == PERSON_NAME:
                hits = name_precision(predictions, [r["person_name"] for r in rows])
                scores[f"{split}/name_precision"] = 100.0 * sum(hits) / len(hits)
            else:
                values = rouge_l_recall(predictions, [r["answer"] for r in rows])
                scores[f"{split}/rougeL"] = sum(values) / len(values)
            scores[f"{split}/{task}_rows"] = len(rows)
    return scores


def _last_checkpoint(work):
    from transformers.trainer_utils import get_last_checkpoint

    folder = Path(work, "trainer")
    found = get_last_checkpoint(str(folder)) if folder.is_dir() else None
    return Path(found) if found else None


def _final_loss(history):
    losses = [entry["loss"] for entry in history if "loss" in entry]
    return round(losses[-1], 6) if losses else None


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Name precision / ROUGE-L of a trained model (greedy).")
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--config", default="person_forget05")
    parser.add_argument("--limit", type=int)
    cli = parser.parse_args()
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    print(json.dumps(learnability(cli.model, cli.data, cli.config, limit=cli.limit), indent=1))
