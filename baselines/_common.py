"""Loss helpers shared by the unlearning methods (the protocol itself is `pebench.methods`).

An encoded batch (`VLM.encode(...)`) holds the model inputs plus, on the forget side, the method's
extra fields under `"fields"` (`pebench.methods.batch_fields`), which `forward` leaves out. Every
log-likelihood here is over answer tokens only (labels != -100), next-token shifted
(`pebench.nll.answer_token_nll`).
"""
import torch

from pebench.errors import UserError
from pebench.methods import batch_field, model_inputs
from pebench.nll import answer_token_nll, per_answer_mean


def refusal_batch(forget):
    """The forget rows encoded with refusal answers (the method must `@requires("refusal")`)."""
    return batch_field(forget, "refusal")


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
    return answer_token_nll(logits, labels)[0]


def sequence_nll(model, batch, mean=False):
    """Per-row answer NLL [B]: the sum over answer tokens, or the per-token mean if `mean`."""
    nll, mask = answer_token_nll(forward(model, batch).logits, batch["labels"])
    return per_answer_mean(nll, mask) if mean else nll.sum(dim=1)


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
