"""GA: gradient ascent on the forget answers."""
from baselines import METHODS
from baselines._common import nll
from pebench.methods import requires


@METHODS.register("ga")
@requires()
def loss(model, forget, retain, ref=None):
    """Gradient Ascent: maximise the NLL of the forget answers (no utility term).

    Paper: Jang et al., "Knowledge Unlearning for Mitigating Privacy Risks in Language Models" (ACL 2023);
    the GA baseline of TOFU and PEBench. Equation: L = -(1/|D_f|) sum_{(x,y) in D_f} NLL(y | x; theta),
    here with the NLL averaged over the batch's answer tokens.
    """
    return -nll(model, forget)
