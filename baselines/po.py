"""PO: fine-tune the forget questions toward refusal answers, plus retain NLL."""
from baselines import METHODS
from baselines._common import nll, refusal_batch, retain_loss
from pebench.methods import requires


@METHODS.register("po")
@requires("retain", "refusal")
def loss(model, forget, retain, ref=None, retain_weight=1.0):
    """Preference Optimisation: teach refusals ("I don't know who this is.") on forget, NLL on retain.

    Paper: the "IDK" fine-tuning baseline of TOFU (Maini et al., 2024), called PO in PEBench. Equation:
    L = NLL(y_refusal | x_f) + lambda * NLL(D_r), lambda = `retain_weight`. The true forget answers are
    not used.
    """
    return nll(model, refusal_batch(forget)) + retain_weight * retain_loss(model, retain, kind="nll")
