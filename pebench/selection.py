"""When to stop unlearning and which setting to keep, decided on training-side validation rows only.

Unlearning papers that select checkpoints or settings on the test splits report numbers nobody can reach
again (MUSE; open-unlearning issues on undisclosed selection). pebench declares the rule and records what
it chose. Validation rows never come from a test split:

- `forget_val`: a fixed probe of `forget_train` (the rows being unlearned; first `probe_size` by id);
- `retain_val`: a fixed probe of `retain_train`, held out of the retain stream the methods train on.

Rules (the `select` setting of `pebench unlearn`):

- `budget`: train for the whole budget (`epochs` passes over forget_train) and keep the last step
  (TOFU / open-unlearning's fixed budget).
- `goal_nll`: stop at the first curve point whose forget_val NLL reaches the goal model's NLL on the same
  rows (MUSE's "stop when the forget set looks like the retrained model's"); the budget is the cap.
"""
import math

from pebench.errors import UserError

RULES = ("budget", "goal_nll")
VALIDATION_SPLITS = {"forget_val": "forget_train", "retain_val": "retain_train"}  # what each is carved from
TEST_SPLITS = ("forget_test", "forget_unseen", "retain_test", "retain_unseen", "test", "holdout", "world")


def check_rule(name):
    """The rule's name, or one clear error: an unknown rule or one that names a test split."""
    if any(split in str(name) for split in TEST_SPLITS):
        raise UserError(f"selection rule {name!r} names a test split; rules may only read "
                        f"{', '.join(VALIDATION_SPLITS)} (choose from: {', '.join(RULES)})")
    if name not in RULES:
        raise UserError(f"unknown selection rule {name!r}; choose from: {', '.join(RULES)}")
    return name


def reached(point, rule, goal_nll):
    """Does this curve point satisfy `rule`? (`budget` is satisfied only by running out of steps.)"""
    return rule == "goal_nll" and point["forget_val_nll"] >= goal_nll


def record(rule, point, goal_nll, budget_steps):
    """The card's `selection` entry for the kept curve point."""
    return {"rule": rule, "step": point["step"], "budget_steps": budget_steps,
            "reached": rule == "budget" or point["forget_val_nll"] >= goal_nll,
            "forget_val_nll": point["forget_val_nll"], "retain_val_nll": point["retain_val_nll"],
            "goal_forget_val_nll": goal_nll}


def score(cards):
    """(forgot, -retain_val NLL, forget_val NLL) averaged over seeds: larger is a better setting.

    A setting *forgot* when its mean forget_val NLL reaches the goal model's (pass `--goal` to `pebench
    unlearn`, as `pebench sweep` does; without it, when it doubled the fine-tuned model's start of the
    curve, a weak stand-in: any rise would let the gentlest setting win); among those that forgot, the
    one that kept retain_val likeliest wins; when none forgot, the one that came closest.
    """
    selections = [card["selection"] for card in cards]
    forget = _mean(s["forget_val_nll"] for s in selections)
    retain = _mean(s["retain_val_nll"] for s in selections)
    goals = [s["goal_forget_val_nll"] for s in selections if s.get("goal_forget_val_nll") is not None]
    target = _mean(goals) if goals else 2 * _mean(card["curve"][0]["forget_val_nll"] for card in cards)
    forgot = forget >= target
    return (forgot, -retain if forgot else forget, forget)


def choose(cards_by_setting):
    """The key of the best setting by `score` (ties: the first key in sorted order), from validation rows only."""
    if not cards_by_setting:
        raise UserError("no finished runs to choose a setting from")
    usable = {key: cards for key, cards in cards_by_setting.items() if cards and all("selection" in c for c in cards)}
    if not usable:
        raise UserError("none of the runs records a selection (re-run them with this pebench version)")
    return max(sorted(usable, key=str), key=lambda key: score(usable[key]))


def _mean(values):
    values = [float(v) for v in values]
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else float("nan")
