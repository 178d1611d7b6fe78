"""Description judges: score a generated scene description against the event's reference, in [0, 1].

PEBench scored the event task with a GPT-4 G-Eval judge. pebench's default judge is offline, deterministic
and discriminative (`event_retrieval`: a description scores only as far as it singles out its event
among all events of the release); `keyword_rouge` (keywords + ROUGE-L, which a keyword dump games) stays
selectable, and an LLM judge (a local Hugging Face model through the adapter, or an OpenAI-compatible
endpoint) can replace either. A judge is a class registered by name with

    judge = JudgeClass(arg)                 # arg: the text after ":" in the spec ("openai:gpt-4o-mini")
    judge.score(predictions, references) -> list[float] in [0, 1]
    judge.deterministic                     # True: `results.recompute` re-scores the predictions itself;
                                            # False: the per-record scores stored in the result are used

where each reference is a dict with `event_id`, `description` (the reference answer) and `keywords` (the
event's ten evaluation keywords from the `events` config). A judge with `needs_events = True` is called
as `judge.score(predictions, references, events=...)` with every event record of the release; one with
a `version` has it recorded in the result (`eval.judge_version`), and a result scored by another
version is refused rather than silently re-scored.
"""
from pebench.registry import Registry

JUDGES = Registry("judge", "pebench.judges")
DEFAULT = "event_retrieval"


def make_judge(spec=DEFAULT):
    """A judge from a spec "name" or "name:argument" (e.g. "hf:/models/judge", "openai:gpt-4o-mini")."""
    name, _, arg = str(spec).partition(":")
    return JUDGES.get(name)(arg or None)
