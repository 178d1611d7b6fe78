"""Description judges: score a generated scene description against the event's reference, in [0, 1].

PEBench scored the event task with a GPT-4 G-Eval judge. pebench's default judge is offline and
deterministic (`keyword_rouge`); an LLM judge (a local Hugging Face model through the adapter, or an
OpenAI-compatible endpoint) can replace it. A judge is a class registered by name with

    judge = JudgeClass(arg)                 # arg: the text after ":" in the spec ("openai:gpt-4o-mini")
    judge.score(predictions, references) -> list[float] in [0, 1]
    judge.deterministic                     # True: `results.recompute` re-scores the predictions itself;
                                            # False: the per-record scores stored in the result are used

where each reference is a dict with `description` (the reference answer) and `keywords` (the event's
ten evaluation keywords from the `events` config).
"""
from pebench.registry import Registry

JUDGES = Registry("judge", "pebench.judges")
DEFAULT = "keyword_rouge"


def make_judge(spec=DEFAULT):
    """A judge from a spec "name" or "name:argument" (e.g. "hf:/models/judge", "openai:gpt-4o-mini")."""
    name, _, arg = str(spec).partition(":")
    return JUDGES.get(name)(arg or None)
