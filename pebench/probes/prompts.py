"""Rephrased and prefilled prompts: does the model still answer when asked another way?

Each forget row is asked with its question, with every paraphrase in `question_paraphrases`, and with
its question while the assistant turn is prefilled with the answer's opening ("This is" for a name, "The
scene shows" for a description): a model that learnt to refuse one wording, or to steer its first
tokens away, gives the answer on another path. Per row the worst case for the forgetter counts (the
variant that scored highest). The goal model under the same prompts is the control. The plain question's
answer is the evaluation's own greedy prediction, not generated again (one of five variants per name row).
"""
from pebench.probes import NotRun, Probe, record, register
from pebench.schema import EVENT_DESCRIPTION, PERSON_NAME

PREFILLS = {PERSON_NAME: ("This is",), EVENT_DESCRIPTION: ("The scene shows",)}


def variants(row, settings):
    """[(variant, question, prefill)] for one row: the question, each paraphrase, each prefill."""
    out = [("question", row["question"], None)]
    out += [(f"paraphrase_{i}", q, None) for i, q in enumerate(row.get("question_paraphrases") or [])]
    if settings["prefill"]:
        out += [(f"prefill_{i}", row["question"], p) for i, p in enumerate(PREFILLS.get(row["task"], ()))]
    return out


def attack(ctx, settings):
    from pebench.probes import FORGET_SPLITS

    vlm = ctx.load()
    asked = [(s, r, v, {**r, "question": q}, p) for s, rows in ctx.own_rows(FORGET_SPLITS).items() for r in rows
             for v, q, p in variants(r, settings)]

    def answered(a):  # the plain question, already answered by the evaluation
        return a[2] == "question" and (a[0], a[1]["id"]) in ctx.plain

    out = [record(s, r, ctx.plain[(s, r["id"])], v) for s, r, v, _, _ in filter(answered, asked)]
    asked = [a for a in asked if not answered(a)]
    for prefilled in (False, True):  # one batch stream per kind: a prefill changes the prompt's end
        group = [a for a in asked if (a[4] is not None) == prefilled]
        if not group:
            continue
        try:
            texts = vlm.generate([a[3] for a in group], max_new_tokens=ctx.max_new_tokens,
                                 batch_size=ctx.batch_size, prefixes=[a[4] for a in group] if prefilled else None)
        except NotImplementedError as err:
            raise NotRun(str(err)) from None
        out += [record(s, r, t, v) for (s, r, v, _, _), t in zip(group, texts)]
    return out


def keys(settings, rows):
    from pebench.probes import FORGET_SPLITS

    return {(s, r["task"], r["id"], v) for s, split_rows in rows.items() if s in FORGET_SPLITS for r in split_rows
            for v, _, _ in variants(r, settings)}


attack.keys = keys

register(Probe(
    name="prompts",
    summary="Ask every paraphrase of each question, and prefill the answer's opening ('This is', 'The scene "
            "shows'); per row the best-answered variant counts.",
    attack=attack, settings={"paraphrases": "all", "prefill": True}))
