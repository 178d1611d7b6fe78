"""Run an unlearning method: one `transformers.Trainer` subclass whose `compute_loss` calls the method.

The method (a loss in `baselines/`) sees a forget batch and a retain batch; the Trainer brings the
optimiser, schedule, accelerate (multi-GPU, DeepSpeed, FSDP), mixed precision and, with `lora_r > 0`,
peft LoRA. The budget is `epochs` passes over forget_train (steps derived; `steps` overrides it); the
declared selection rule (`pebench.selection`, on training-side validation rows only) may stop earlier.
A forget_val/retain_val NLL curve is recorded every `curve_every` steps; the model is written with a JSON
card (budget, rule, chosen step) atomically.
"""
import json
import math
import time
from pathlib import Path

import torch
from transformers import PrinterCallback, Trainer, TrainerCallback, set_seed

from pebench import data, distributed
from pebench.adapter import with_lora
from pebench.cards import write_model_card
from pebench.errors import UserError
from pebench.io import atomic_dir, atomic_write_json, portable_path
from pebench.methods import FIELDS, METHODS, config_file, fields_of, hparams_of, needs_of, prepare_of, split_hparams
from pebench.nll import answer_token_nll, per_answer_mean
from pebench.schema import FORGET_CONFIGS

CARD = "unlearning.json"

# Training settings every method shares; the method's YAML and `--set` override them. The budget is
# `epochs` passes over forget_train in optimiser steps of `batch_size * grad_accum` forget rows (each
# paired with a retain row); `steps` (when set) is an exact step budget instead, for quick checks.
TRAIN_DEFAULTS = {
    "epochs": 5.0,
    "steps": None,
    "select": "budget",
    "retain_tasks": "forget",  # retain stream: rows of the forget split's task(s) ("forget") or every row ("all")
    "lr": 1e-4,
    "batch_size": 8,
    "grad_accum": 1,
    "weight_decay": 0.01,
    "scheduler": "constant",
    "warmup_steps": 0,
    "max_grad_norm": 1.0,
    "curve_every": 2,
    "probe_size": 32,
    "bf16": False,
    "lora_r": 0,
    "report_to": "none",  # a Trainer integration: none, tensorboard, wandb, mlflow (pebench.tracking)
}


class Diverged(RuntimeError):
    """The loss became NaN or infinite."""

    def __init__(self, step, loss):
        super().__init__(f"loss became {loss} at step {step}")
        self.step, self.loss = step, loss


# ----------------------------------------------------------------------------------------- settings
def parse_value(text):
    """A `--set` value: YAML scalars (1, 0.5, true, null, kl), plus floats like 1e-5 that YAML 1.1 misses."""
    import yaml

    value = yaml.safe_load(text)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _method_yaml(loss, method):
    return config_file(loss, method.rpartition(":")[2] if ":" in method else method)


def settings_for(method, hparams_file=None, overrides=None):
    """Defaults < the method's YAML (or `config_file`) < overrides. Unknown keys are errors."""
    import yaml

    loss = METHODS.get(method)
    settings = {**TRAIN_DEFAULTS, **hparams_of(loss)}
    path = Path(hparams_file) if hparams_file else _method_yaml(loss, method)
    if hparams_file and not path.is_file():
        raise UserError(f"hyper-parameter file {path} does not exist")
    sources = [(str(path), yaml.safe_load(path.read_text()) or {})] if path.is_file() else []
    sources.append(("--set", overrides or {}))
    for source, values in sources:
        if not isinstance(values, dict):
            raise UserError(f"{source}: expected flat key: value pairs")
        unknown = sorted(set(values) - set(settings))
        if unknown:
            raise UserError(
                f"{source}: unknown key(s) {', '.join(unknown)} for method {method!r}; "
                f"valid keys: {', '.join(sorted(settings))}"
            )
        settings.update({k: _typed(k, v, settings[k]) for k, v in values.items()})
    return settings


def _typed(key, value, default):
    if default is None:  # optional number (steps)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise UserError(f"{key} must be an integer, got {value!r}")
        return value
    if isinstance(default, bool) and not isinstance(value, bool):
        raise UserError(f"{key} must be true or false, got {value!r}")
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise UserError(f"{key} must be a number, got {value!r}")
        if isinstance(default, int) and not isinstance(value, int):
            raise UserError(f"{key} must be an integer, got {value!r}")
    return value


def check_budget(train):
    """One clear error for a budget that cannot train (steps < 1, epochs <= 0, batch < 1) or a bad retain stream."""
    if train["retain_tasks"] not in ("forget", "all"):
        raise UserError(f"retain_tasks must be 'forget' or 'all', got {train['retain_tasks']!r}")
    for key in ("batch_size", "grad_accum", "curve_every", "probe_size"):
        if train[key] < 1:
            raise UserError(f"{key} must be at least 1, got {train[key]}")
    if train["steps"] is not None and train["steps"] < 1:
        raise UserError(f"steps must be at least 1, got {train['steps']}")
    if train["steps"] is None and not train["epochs"] > 0:
        raise UserError(f"epochs must be positive, got {train['epochs']}")


def budget_steps(train, forget_rows):
    """Optimiser steps of the budget: `steps` if set, else ceil(epochs x forget rows / rows per step).

    Rows per step count every rank (`torchrun`): two processes at batch 4 take the steps one takes at 8.
    """
    check_budget(train)
    if train["steps"] is not None:
        return train["steps"]
    rows_per_step = distributed.effective_batch(train["batch_size"], train["grad_accum"])  # x world size
    return max(1, math.ceil(train["epochs"] * forget_rows / rows_per_step))


def split_settings(method, settings):
    """(training settings, method hparams)."""
    train = {k: settings[k] for k in TRAIN_DEFAULTS}
    hparams = {k: v for k, v in settings.items() if k not in TRAIN_DEFAULTS}
    return train, hparams


# ---------------------------------------------------------------------------------------------- data
def load_split(data_dir, config, split, required=True):
    """One split of a forget config as a `datasets.Dataset`, or None when absent and not required."""
    if config not in FORGET_CONFIGS:
        raise UserError(f"unknown forget config {config!r}; choose from: {', '.join(FORGET_CONFIGS)}")
    return data.load_split(data_dir, config, split, required)


def probe_rows(dataset, size):
    """The first `size` rows in id order: a fixed probe, independent of the seed."""
    ids = dataset["id"]  # the column alone: no image is decoded to sort
    return [dataset[i] for i in sorted(range(len(ids)), key=ids.__getitem__)[:size]]


class PairDataset(torch.utils.data.Dataset):
    """Item i pairs forget row i mod F with retain row perm[i mod R] (seeded); length fills the budget."""

    def __init__(self, forget, retain, length, seed):
        self.forget, self.retain, self.length = forget, retain, length
        generator = torch.Generator().manual_seed(seed)
        self.order = torch.randperm(len(retain), generator=generator).tolist() if retain is not None else []

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        forget = self.forget[index % len(self.forget)]
        retain = self.retain[self.order[index % len(self.order)]] if self.order else None
        return {"forget": forget, "retain": retain}


class PairCollator:
    """Encodes a list of pairs with the adapter: {"forget": batch + the method's fields, "retain": batch}.

    `fields` ({name: make(vlm, rows)}, `pebench.methods.fields_of`) come from the method: the collator
    knows no method by name.
    """

    def __init__(self, vlm, fields=None):
        self.vlm, self.fields = vlm, dict(fields or {})

    def __call__(self, items):
        forget_rows = [item["forget"] for item in items]
        forget = self.vlm.encode(forget_rows)
        if self.fields:
            forget[FIELDS] = {name: make(self.vlm, forget_rows) for name, make in self.fields.items()}
        retain_rows = [item["retain"] for item in items if item["retain"] is not None]
        return {"forget": forget, "retain": self.vlm.encode(retain_rows) if retain_rows else None}


# ------------------------------------------------------------------------------------------- trainer
class UnlearnTrainer(Trainer):
    """`Trainer` whose loss is an unlearning method over (forget batch, retain batch, reference model)."""

    def __init__(self, *args, loss_fn, loss_kwargs=None, ref_model=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_fn, self.loss_kwargs = loss_fn, loss_kwargs or {}
        self.ref_model = ref_model.to(self.args.device) if ref_model is not None else None

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        loss = self.loss_fn(model, inputs["forget"], inputs["retain"], ref=self.ref_model, **self.loss_kwargs)
        if not torch.isfinite(loss.detach()).all():
            raise Diverged(self.state.global_step + 1, float(loss.detach()))
        return (loss, None) if return_outputs else loss


def mean_nll(vlm, model, rows, batch_size):
    """Mean over rows of the per-token answer NLL (the curve's y value)."""
    was_training = model.training
    model.eval()
    values = []
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            batch = _to_model(vlm.encode(rows[start:start + batch_size]), model)
            labels = batch.pop("labels")
            nll = per_answer_mean(*answer_token_nll(model(**batch).logits, labels))
            values.append(nll.float().cpu())
    model.train(was_training)
    return float(torch.cat(values).mean()) if values else float("nan")


def _to_model(batch, model):
    """Move a batch to the model's device, floating tensors to its dtype (e.g. bf16 pixel values)."""
    param = next(model.parameters())
    return {k: v.to(param.device, dtype=param.dtype) if v.is_floating_point() else v.to(param.device)
            for k, v in batch.items()}


class CurveCallback(TrainerCallback):
    """Every k steps: probe NLLs into `curve`; keep a CPU copy of the last good weights; stop by `rule`.

    `rule` (`pebench.selection.RULES`, None = never stop early) is checked at every curve point after
    step 0; `goal_nll` is the goal model's forget_val NLL that rule `goal_nll` waits for.
    """

    def __init__(self, vlm, probes, every, batch_size, rule=None, goal_nll=None):
        self.vlm, self.probes, self.every, self.batch_size = vlm, probes, every, batch_size
        self.rule, self.goal_nll = rule, goal_nll
        self.curve, self.good, self.good_step = [], None, None

    def record(self, model, step):
        point = {"step": step, **{f"{name}_nll": mean_nll(self.vlm, model, rows, self.batch_size)
                                  for name, rows in self.probes.items()}}
        self.curve.append(point)
        if all(math.isfinite(v) for k, v in point.items() if k != "step"):
            self.good = {n: p.detach().to("cpu", copy=True) for n, p in model.named_parameters() if p.requires_grad}
            self.good_step = step

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.record(model, 0)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        from pebench.selection import reached

        if state.global_step % self.every == 0 or state.global_step == state.max_steps:
            self.record(model, state.global_step)
            if self.rule and reached(self.curve[-1], self.rule, self.goal_nll):
                control.should_training_stop = True

    def restore(self, model):
        params = dict(model.named_parameters())
        with torch.no_grad():
            for name, value in self.good.items():
                params[name].copy_(value)


def training_args(train, seed, workdir, steps, lr):
    """The shared `trainer_arguments` for a fixed budget of `steps` optimiser steps, no checkpoints."""
    from pebench.training import trainer_arguments

    return trainer_arguments(
        workdir, seed, report_to=train["report_to"], max_steps=steps, per_device_train_batch_size=train["batch_size"],
        gradient_accumulation_steps=train["grad_accum"], learning_rate=lr, weight_decay=train["weight_decay"],
        lr_scheduler_type=train["scheduler"], warmup_steps=train["warmup_steps"],
        max_grad_norm=train["max_grad_norm"], bf16=train["bf16"], save_strategy="no",
        logging_strategy="no" if train["report_to"] == "none" else "steps", logging_steps=1)


def fit(vlm, loss_fn, loss_kwargs, ref, forget, retain, probes, train, seed, workdir, steps, lr, fields=None,
        rule=None, goal_nll=None):
    """Train `vlm.model` in place; returns (curve callback, stop reason, trained model).

    `rule`/`goal_nll`: the selection rule that may stop before `steps` (see `CurveCallback`).
    """
    model = with_lora(vlm.model, train["lora_r"])
    model.train()
    # every rank's rows: on W processes a step takes W per-device batches, so the pairs a 1-process run
    # sees in `steps` steps are the ones W processes see (a per-device length would cycle half of them twice)
    length = steps * distributed.effective_batch(train["batch_size"], train["grad_accum"])
    curve = CurveCallback(vlm, probes, train["curve_every"], train["batch_size"], rule, goal_nll)
    trainer = UnlearnTrainer(
        model=model, args=training_args(train, seed, workdir, steps, lr),
        train_dataset=PairDataset(forget, retain, length, seed),
        data_collator=PairCollator(vlm, fields), callbacks=[curve],
        loss_fn=loss_fn, loss_kwargs=loss_kwargs, ref_model=ref,
    )
    trainer.remove_callback(PrinterCallback)  # the curve goes to the card, not to stdout
    stop = {"reason": "budget"}
    try:
        trainer.train()
        if trainer.state.global_step < steps:
            stop = {"reason": "rule", "rule": rule, "at_step": trainer.state.global_step}
    except Diverged as err:
        if curve.good is None:
            raise UserError(f"{err}; no finite checkpoint to keep (lower lr)") from None
        curve.restore(model)
        stop = {"reason": "diverged", "at_step": err.step, "loss": str(err.loss), "kept_step": curve.good_step}
    if train["lora_r"]:
        model = model.merge_and_unload()
    model.eval()
    return curve, stop, model


# ------------------------------------------------------------------------------------------ runs
def relearn_loss(model, forget, retain, ref=None):
    """The relearning attack's loss (`pebench.probes.relearn`): plain NLL of the true forget answers."""
    labels = forget["labels"]
    nll, mask = answer_token_nll(model(**{k: v for k, v in forget.items() if k != "labels"}).logits, labels)
    return nll.sum() / mask.sum().clamp(min=1)


def relearn_rows(forget, count, seed):
    """A seeded sample of `count` forget_train rows: the attacker's small part of the forget data."""
    generator = torch.Generator().manual_seed(seed)
    picked = torch.randperm(len(forget), generator=generator)[:count].tolist()
    return [forget[i] for i in sorted(picked)]


def save(vlm, model, out, card):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    vlm.processor.save_pretrained(out)
    atomic_write_json(out / CARD, card)
    write_model_card(out)


def _model_dir(model):
    path = Path(model)
    if not (path / "config.json").is_file():
        raise UserError(f"{model} is not a model folder (no config.json); train one with `pebench train`")
    return path


def validation_rows(data_dir, config, size, retain_tasks="forget"):
    """(probes {"forget_val", "retain_val"}, retain_train without retain_val): training-side rows only.

    forget_val is a fixed probe of the rows being unlearned; retain_val is a fixed probe of retain_train
    rows of the same tasks (the other people's names for a person target) that the methods never train
    on, so the rule sees what unlearning did to knowledge it did not touch. Both are spread over people
    and events by a stable hash of the row id, not the first ids (which would all be one person).
    `retain_tasks="forget"` keeps only retain rows of the forget split's task(s) in the returned stream:
    forgetting one person's name is learnt against the other people's names (with every retain task in
    the stream, 10 steps of PO on the demo taught "refuse every identity question": retain_val names
    9.4 %; with the task's rows 78.1 %, `baselines/tuning/`).
    """
    forget = load_split(data_dir, config, "forget_train")
    retain = load_split(data_dir, config, "retain_train", required=False)
    tasks = set(forget["task"])
    retain_val = spread_rows(retain, size, tasks) if retain else []
    held = {row["id"] for row in retain_val}
    if retain:
        kinds = retain["task"]
        retain = retain.select([i for i, row_id in enumerate(retain["id"])
                                if row_id not in held and (retain_tasks == "all" or kinds[i] in tasks)])
    return {"forget_val": spread_rows(forget, size), "retain_val": retain_val}, retain


def spread_rows(dataset, size, tasks=None):
    """Up to `size` rows (of `tasks`, if given) in the order of a stable hash of their ids: seed-independent."""
    import zlib

    ids, kinds = dataset["id"], dataset["task"]
    chosen = sorted((i for i in range(len(ids)) if tasks is None or kinds[i] in tasks),
                    key=lambda i: (zlib.crc32(ids[i].encode()), ids[i]))[:size]
    return [dataset[i] for i in sorted(chosen, key=ids.__getitem__)]


def goal_forget_nll(goal, probes, batch_size):
    """The goal model's NLL on forget_val: the level rule `goal_nll` waits for."""
    from pebench.adapter import VLM

    if goal is None:
        raise UserError("selection rule goal_nll needs the goal model: pass --goal DIR")
    vlm = VLM.from_pretrained(str(_model_dir(goal)))
    return mean_nll(vlm, vlm.model, probes["forget_val"], batch_size)


def unlearn(data_dir, config, model, method, out, overrides=None, hparams_file=None, seed=0, overwrite=False,
            goal=None):
    """Unlearn `config`'s forget targets from the fine-tuned `model` with `method`; write `out`.

    `goal`: the goal model folder, needed by selection rule `goal_nll`. Returns the JSON card written to
    `out/unlearning.json` (method, hparams, training settings, budget, selection, base, seed, steps,
    curve, stop reason, dataset fingerprint, wall time). The relearning attack is a probe
    (`pebench evaluate --probes relearn`), not part of unlearning. A diverging run restores the last
    finite curve point's weights, saves them, then raises `UserError`.
    """
    import tempfile

    from pebench import selection
    from pebench.io import check_output_dir
    from pebench.training import base_of

    loss_fn = METHODS.get(method)
    train, hparams = split_settings(method, settings_for(method, hparams_file, overrides))
    rule = selection.check_rule(train["select"])
    check_budget(train)
    needs = needs_of(loss_fn, hparams)
    check_output_dir(out, overwrite)
    model_dir = _model_dir(model)
    forget = load_split(data_dir, config, "forget_train")
    steps = budget_steps(train, len(forget))
    probes, retain = validation_rows(data_dir, config, train["probe_size"], train["retain_tasks"])
    if "retain" in needs and not retain:
        raise UserError(f"method {method!r} needs retain data, but config {config!r} has no retain_train rows")
    # the goal's forget_val NLL: what rule goal_nll waits for, and what `selection.choose` compares settings to
    goal_nll = goal_forget_nll(goal, probes, train["batch_size"]) if goal is not None or rule == "goal_nll" else None
    from pebench.adapter import VLM

    set_seed(seed)
    vlm = VLM.from_pretrained(str(model_dir))
    ref = VLM.from_pretrained(str(model_dir)).model.eval().requires_grad_(False) if "ref" in needs else None
    loss_kwargs, prepare_kwargs = split_hparams(loss_fn, hparams)
    prepare = prepare_of(loss_fn)
    rows = prepare(vlm.model, ref, forget, seed=seed, **prepare_kwargs) if prepare else forget
    start = time.time()
    with tempfile.TemporaryDirectory() as workdir:
        curve, stop, trained = fit(vlm, loss_fn, loss_kwargs, ref, rows, retain if "retain" in needs else None,
                                   probes, train, seed, workdir, steps, train["lr"],
                                   fields=fields_of(loss_fn, hparams), rule=rule, goal_nll=goal_nll)
    kept = next(p for p in reversed(curve.curve) if p["step"] == stop.get("kept_step", p["step"]))
    card = {
        "method": method, "hparams": hparams, "training": train, "seed": seed,
        "budget": {"epochs": train["epochs"] if train["steps"] is None else None, "steps": steps,
                   "rows_per_step": distributed.effective_batch(train["batch_size"], train["grad_accum"]),
                   "forget_rows": len(forget)},
        "selection": selection.record(rule, kept, goal_nll, steps),
        "steps": kept["step"], "stop": stop, "curve": curve.curve,
        "forget_rows": len(rows), "model": portable_path(model, out), "base": base_of(model_dir),
        "dataset": {"config": config, "fingerprint": data.fingerprint(data_dir)},
        "wall_time_s": round(time.time() - start, 3),
        "distributed": distributed.run_info(train["batch_size"], train["grad_accum"]),
    }
    if distributed.is_main():  # one writer; the other ranks wait below
        with atomic_dir(out, overwrite) as tmp:
            save(vlm, trained, tmp, card)
    distributed.wait()
    if stop["reason"] == "diverged":
        raise UserError(
            f"{method}: loss became {stop['loss']} at step {stop['at_step']}; kept the last good model "
            f"(step {stop['kept_step']}) in {out} (lower lr or steps)"
        )
    return card
