"""Relearning: a few steps of plain fine-tuning bring the "forgotten" answers back?

Hu et al. (arXiv 2406.13356) and Deeb & Roger (arXiv 2410.08827) restore most unlearned knowledge by
fine-tuning on a small part of it (or on related data); knowledge only suppressed comes back faster than
a model that never knew it can learn it. Two attacks, reported apart:

- `relearn`: `steps` optimiser steps of plain answer NLL (`pebench.unlearning.relearn_loss`) on `rows`
  seeded forget_train rows (`relearn_rows`), then the forget_test and forget_unseen answers (forget_train
  is what the attacker trained on, so it is not scored).
- `relearn_profile`: the same on the forget people's text-only profile facts (`forget_profile`: related
  data without a single picture or name-from-picture answer), then every forget split.

The goal model relearned on the same rows for the same steps is the control: recovery counts only what
the attacked model regains beyond what a model that never knew the person learns.
"""
from pebench.errors import UserError
from pebench.probes import NotRun, Probe, register

SETTINGS = {"steps": 5, "rows": 8, "lr": 1e-3, "batch_size": 8}


def check(settings):
    for key in ("steps", "rows", "batch_size"):
        if not isinstance(settings[key], int) or isinstance(settings[key], bool) or settings[key] < 1:
            raise UserError(f"relearning {key} must be a whole number >= 1, got {settings[key]!r}")
    if not isinstance(settings["lr"], (int, float)) or settings["lr"] <= 0:
        raise UserError(f"relearning lr must be > 0, got {settings['lr']!r}")


def relearned(ctx, rows, settings):
    """The model fine-tuned on `rows` for the attack's steps (in memory; nothing is written)."""
    import tempfile

    from pebench.unlearning import TRAIN_DEFAULTS, fit, relearn_loss, relearn_rows

    if not rows:
        raise NotRun(f"no rows to relearn on in {ctx.config}")
    vlm = ctx.load()
    picked = relearn_rows(rows, settings["rows"], ctx.seed)
    train = {**TRAIN_DEFAULTS, "batch_size": settings["batch_size"], "grad_accum": 1, "lora_r": 0,
             "curve_every": settings["steps"], "report_to": "none"}
    with tempfile.TemporaryDirectory() as workdir:
        _, _, vlm.model = fit(vlm, relearn_loss, {}, None, picked, None, {}, train, ctx.seed, workdir,
                              settings["steps"], settings["lr"])
    return vlm


def attack_forget(ctx, settings):
    vlm = relearned(ctx, ctx.own_rows(("forget_train",)).get("forget_train", []), settings)
    return ctx.answer(vlm, ("forget_test", "forget_unseen"))


def attack_profile(ctx, settings):
    vlm = relearned(ctx, ctx.rows.get("forget_profile", []), settings)
    return ctx.answer(vlm)


for probe_attack, name, summary, kw in (
        (attack_forget, "relearn", "Fine-tune a few steps on a few forget_train rows, then ask about the held-out "
         "pictures: recovery beyond what the goal model learns from the same rows.",
         dict(headline="generality", skip_splits=("forget_train",))),
        (attack_profile, "relearn_profile", "Fine-tune a few steps on the forget people's text-only profile facts "
         "(related data, no picture), then ask for their names from pictures.",
         dict(targets=("person", "joint")))):
    probe_attack.check = check
    register(Probe(name=name, summary=summary, attack=probe_attack, settings=dict(SETTINGS), training=True,
                   cheap=False, **kw))
