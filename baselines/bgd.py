"""BGD: balanced gradient difference for forgetting people and events together."""
import random

import torch

from baselines import METHODS
from baselines._common import need_ref, retain_loss, sequence_nll
from pebench.methods import batch_fields, requires


def prepare(model, ref, forget_rows, seed):
    """Balance the data: oversample the smaller of the person and event groups to the larger's size.

    Each group is cycled in a seeded order, so every row of the smaller group is repeated about equally.
    """
    person = [r for r in forget_rows if r["task"] == "person_name"]
    event = [r for r in forget_rows if r["task"] != "person_name"]
    if not person or not event:
        return forget_rows
    rng = random.Random(seed)
    size = max(len(person), len(event))
    return _cycled(person, size, rng) + _cycled(event, size, rng)


def _cycled(rows, size, rng):
    order = list(range(len(rows)))
    rng.shuffle(order)
    return [rows[order[i % len(rows)]] for i in range(size)]


def is_person(vlm, rows):
    """Bool per forget row: does it ask for a person (else an event)? The loss balances the two groups."""
    return torch.tensor([row["task"] == "person_name" for row in rows])


def _needs(hparams):
    return {"retain", "ref"} if hparams.get("retain_term", "nll") == "kl" else {"retain"}


@METHODS.register("bgd")
@requires(_needs)
@batch_fields(is_person=is_person)
def loss(model, forget, retain, ref=None, retain_term="nll", person_weight=0.5, retain_weight=1.0):
    """Balanced Gradient Difference: GD (or KL) whose forget term weighs people and events equally.

    PEBench (Xu et al., 2025, Sec. 5) proposes balancing person and event data and losses when both are
    forgotten at once; the exact form is unpublished. Ours, with l(x, y) the per-token mean NLL of one
    answer (so a 4-token name and a 40-token description count the same) and B_p, B_e the person and
    event rows of the batch:
    L = -[w * mean_{B_p} l + (1 - w) * mean_{B_e} l] + lambda * R,
    w = `person_weight` (a group missing from the batch gives its weight to the other), R the retain NLL
    (`retain_term="nll"`, GD+BGD) or the KL to the fine-tuned model (`"kl"`, KL+BGD), lambda =
    `retain_weight`. Data balance: `prepare` oversamples the smaller group to the larger's size.
    """
    per_row = sequence_nll(model, forget, mean=True)
    person = (forget.get("fields") or {}).get("is_person")
    person = torch.ones_like(per_row, dtype=torch.bool) if person is None else person.to(per_row.device).bool()
    groups = [(person_weight, per_row[person]), (1 - person_weight, per_row[~person])]
    present = [(w, g) for w, g in groups if g.numel()]
    total = sum(w for w, _ in present)
    forget_term = sum(w * g.mean() for w, g in present) / total
    if retain_term == "kl":
        need_ref(ref, "bgd with retain_term=kl")
    return -forget_term + retain_weight * retain_loss(model, retain, ref, kind=retain_term)
