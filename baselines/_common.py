"""Loss helpers shared by the unlearning methods.

An encoded batch (`VLM.encode(...)`) holds the model inputs plus, on the forget side, two optional
extras the helpers remove before `model(**batch)`: `refusal` (the same rows encoded with a refusal
answer) and `is_person` (bool per row, for joint person+event balancing). Every log-likelihood here is
over answer tokens only (labels != -100), next-token shifted.
"""
import inspect
import sys

import torch

from pebench.errors import UserError

EXTRA_KEYS = ("refusal", "is_person")


def requires(*needs):
    """Declare what a method needs besides the forget batch: "ref", "retain", "refusal".

    A single callable `needs(hparams) -> set` may be given instead when the needs depend on hparams.
    """

    def mark(fn):
        fn.needs = needs[0] if len(needs) == 1 and callable(needs[0]) else frozenset(needs)
        return fn

    return mark


def needs_of(loss, hparams):
    """The set of inputs `loss` needs under `hparams` (see `requires`)."""
    needs = getattr(loss, "needs", frozenset())
    return set(needs(hparams) if callable(needs) else needs)


def prepare_of(loss):
    """The optional `prepare(model, ref, forget_rows, seed, **hparams) -> forget_rows` beside a method.

    It runs once before training: it may freeze parameters or resample the forget rows (a list of dicts
    or a `datasets.Dataset`); it returns the rows to train on.
    """
    return getattr(sys.modules[loss.__module__], "prepare", None)


def _defaults(fn, skip):
    return {
        k: p.default
        for k, p in inspect.signature(fn).parameters.items()
        if k not in skip and p.default is not inspect.Parameter.empty
    }


def hparams_of(loss):
    """A method's hyper-parameters and their defaults: the keyword defaults of its loss and prepare."""
    hp = _defaults(loss, ("model", "forget", "retain", "ref"))
    prepare = prepare_of(loss)
    if prepare is not None:
        hp.update(_defaults(prepare, ("model", "ref", "forget_rows", "seed")))
    return hp


def split_hparams(loss, hparams):
    """(loss kwargs, prepare kwargs) from one flat hparams dict; a key may belong to both."""
    prepare = prepare_of(loss)
    own = inspect.signature(loss).parameters
    prep = inspect.signature(prepare).parameters if prepare is not None else {}
    return {k: v for k, v in hparams.items() if k in own}, {k: v for k, v in hparams.items() if k in prep}


def summary(loss):
    """First docstring line: what `pebench unlearn --list` prints."""
    return (loss.__doc__ or "").strip().splitlines()[0] if loss.__doc__ else ""


def model_inputs(batch):
    """The batch without the extras, ready for `model(**...)`."""
    return {k: v for k, v in batch.items() if k not in EXTRA_KEYS}


def refusal_batch(forget):
    if forget.get("refusal") is None:
        raise UserError("this method needs refusal answers, but the forget batch has none")
    return forget["refusal"]


def forward(model, batch, **kwargs):
    return model(**model_inputs(batch), **kwargs)


def nll(model, batch):
    """Mean next-token NLL over all answer tokens of the batch (the usual LM loss)."""
    return nll_from_logits(forward(model, batch).logits, batch["labels"])


def nll_from_logits(logits, labels):
    """`nll` from already computed logits [B, T, V]."""
    return answer_nll(logits, labels).sum() / (labels[:, 1:] != -100).sum().clamp(min=1)


def answer_nll(logits, labels):
    """Per-token NLL [B, T-1] (zero where masked) from logits [B, T, V] and labels [B, T]."""
    logits, labels = logits[:, :-1].float(), labels[:, 1:]
    mask = labels != -100
    logp = torch.log_softmax(logits, dim=-1)
    picked = torch.gather(logp, 2, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return -picked * mask


def sequence_nll(model, batch, mean=False):
    """Per-row answer NLL [B]: the sum over answer tokens, or the per-token mean if `mean`."""
    labels = batch["labels"]
    token_nll = answer_nll(forward(model, batch).logits, labels)
    total = token_nll.sum(dim=1)
    if mean:
        return total / (labels[:, 1:] != -100).sum(dim=1).clamp(min=1)
    return total


def sequence_nll_ref(ref, batch, mean=False):
    """`sequence_nll` of the frozen reference model (no gradient)."""
    with torch.no_grad():
        return sequence_nll(ref, batch, mean=mean)


def need_ref(ref, method):
    if ref is None:
        raise UserError(f"method {method!r} needs a reference model (the fine-tuned model), none was given")


def answer_kl(model, ref, batch, vocab_mask=None, token_mask=None):
    """Mean over answer tokens of KL(ref || model) of the next-token distributions.

    Args:
        vocab_mask: optional bool [V]; True entries are removed from both distributions (renormalised).
        token_mask: optional bool [B, T-1]; only True answer positions count.
    """
    with torch.no_grad():
        ref_logits = forward(ref, batch).logits
    return kl_from_logits(forward(model, batch).logits, ref_logits, batch["labels"], vocab_mask, token_mask)


def kl_from_logits(logits, ref_logits, labels, vocab_mask=None, token_mask=None):
    """`answer_kl` from already computed logits [B, T, V] (see there)."""
    logits, ref_logits = logits[:, :-1].float(), ref_logits[:, :-1].float()
    if vocab_mask is not None:
        logits = logits.masked_fill(vocab_mask, float("-inf"))
        ref_logits = ref_logits.masked_fill(vocab_mask, float("-inf"))
    logp, ref_logp = torch.log_softmax(logits, -1), torch.log_softmax(ref_logits, -1)
    ref_p = ref_logp.exp()
    # masked ids have ref_p = 0 and -inf log-probs: leave them out rather than hide a NaN elsewhere
    per_token = torch.where(ref_p > 0, ref_p * (ref_logp - logp), torch.zeros_like(ref_p)).sum(-1)
    mask = labels[:, 1:] != -100
    if token_mask is not None:
        mask = mask & token_mask
    return (per_token * mask).sum() / mask.sum().clamp(min=1)


def retain_loss(model, retain, ref=None, kind="nll"):
    """The utility-keeping term: NLL on retain ("nll", as in GD) or KL to the reference ("kl")."""
    if retain is None:
        raise UserError("this method needs retain data, but the config has no retain_train split")
    if kind == "nll":
        return nll(model, retain)
    if kind == "kl":
        return answer_kl(model, ref, retain)
    raise UserError(f"unknown retain loss {kind!r}; choose from: nll, kl")
