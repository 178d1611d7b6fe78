"""The one answer negative log-likelihood: training, the unlearning losses and their probes share it."""


def answer_token_nll(logits, labels, kept=None):
    """Per-token NLL of the answer tokens, next-token shifted: (nll [B, T'], mask [B, T']), nll 0 off-answer.

    Args:
        logits: `(batch, length, vocab)`, or `(batch, len(kept), vocab)` when `kept` is given.
        labels: `(batch, length)`, -100 outside the answer.
        kept: the positions `logits` holds (e.g. `logits_to_keep`); None when it holds all.
    """
    import torch.nn.functional as F

    targets = labels[:, 1:]
    if kept is None:
        logits = logits[:, :-1]
    else:
        targets = targets[:, kept]
    mask = targets != -100
    nll = F.cross_entropy(logits.float().transpose(1, 2), targets.clamp(min=0), reduction="none")
    return nll * mask, mask


def per_answer_mean(nll, mask):
    """[B]: each row's mean answer-token NLL (TOFU's length-normalised loss)."""
    return nll.sum(1) / mask.sum(1).clamp(min=1)
