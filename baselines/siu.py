"""SIU-style: refusal fine-tuning on one image per target with a dual masked KL to the original model."""
import torch

from baselines import METHODS
from baselines._common import forward, kl_from_logits, need_ref, nll_from_logits, refusal_batch, retain_loss
from pebench.methods import requires


def prepare(model, ref, forget_rows, seed, images_per_target=1):
    """Keep `images_per_target` forget rows per target (person or event), as SIU learns from one image.

    0 keeps every row. Rows are taken in id order, so the choice does not depend on the seed.
    """
    if not images_per_target:
        return forget_rows
    kept, counts = [], {}
    for index in sorted(range(len(forget_rows)), key=lambda i: forget_rows[i]["id"]):
        row = forget_rows[index]
        target = row["person_id"] if row["task"] == "person_name" else row["event_id"]
        if counts.get(target, 0) < images_per_target:
            counts[target] = counts.get(target, 0) + 1
            kept.append(index)
    return [forget_rows[i] for i in sorted(kept)]


def target_vocabulary(forget, refusal, vocab_size):
    """Bool [V]: ids used by the true forget answers but not by the refusals (e.g. the name's pieces)."""
    true_ids = forget["labels"][forget["labels"] != -100].unique()
    refusal_ids = refusal["labels"][refusal["labels"] != -100].unique()
    mask = torch.zeros(vocab_size, dtype=torch.bool, device=forget["labels"].device)
    mask[true_ids] = True
    mask[refusal_ids] = False
    return mask


@METHODS.register("siu")
@requires("retain", "ref", "refusal")
def loss(model, forget, retain, ref=None, kl_weight=1.0, retain_weight=1.0):
    """SIU-style Single Image Unlearning: refusal fine-tuning with a Dual Masked KL (DMK) to the original.

    Paper: Li et al., "Single Image Unlearning: Efficient Machine Unlearning in Multimodal Large Language
    Models" (NeurIPS 2024). What is implemented (x_f forget question, y_r its refusal answer):
    L = NLL(y_r | x_f) + kl_weight * DMK + retain_weight * NLL(D_r), with
    DMK = mean over kept answer positions t of KL(p_ref^V'(. | x_f, y_r<t) || p_theta^V'(. | x_f, y_r<t)),
    - vocabulary mask: V' drops the target vocabulary (ids in the true forget answers and not in the
      refusals, e.g. the person's name pieces) and both distributions are renormalised over V';
    - token mask: positions where the original model's top prediction lies in the target vocabulary
      (where it would start saying the forgotten answer) are left out of the KL.
    Differences from the paper: the constructed fine-tuning data are our refusal answers on the
    forget images plus retain rows (the paper builds four kinds of multifaceted data with an LLM:
    unseen-concept names, new visual descriptions, decoupled facts, preserved knowledge); "one image per
    concept" is `images_per_target` (see `prepare`), and the masks are derived from token ids, not from
    annotated concept spans.
    """
    need_ref(ref, "siu")
    refusal = refusal_batch(forget)
    with torch.no_grad():
        ref_logits = forward(ref, refusal).logits
    vocab_mask = target_vocabulary(forget, refusal, ref_logits.shape[-1])
    token_mask = ~vocab_mask[ref_logits[:, :-1].argmax(-1)]
    logits = forward(model, refusal).logits
    ce = nll_from_logits(logits, refusal["labels"])
    dmk = kl_from_logits(logits, ref_logits, refusal["labels"], vocab_mask, token_mask)
    return ce + kl_weight * dmk + retain_weight * retain_loss(model, retain, kind="nll")

