"""Mean description-judge scores per adversary case, `event_retrieval` next to `keyword_rouge`.

Usage: python benchmarks/judge_adversaries.py   (no arguments; a few seconds)
Cases, each judged for every event of the full catalogue (40 events) and of a 10-event release
(`make_events(n, random.Random(0))`): the reference description, its paraphrase, the description with
two listed objects swapped for another event's, the event's keywords alone, a dump of every keyword of
the release, every other event's description, generic scenes that fit many events, refusals, the empty
string. "worst" is the lowest score for the true descriptions and the highest for the adversaries.
"""
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout, not an installed copy

from data_builders.events import make_events  # noqa: E402
from pebench.judges import make_judge  # noqa: E402

JUDGE_NAMES = ("event_retrieval", "keyword_rouge")
REFUSALS = ("I don't know.", "I cannot describe this image.", "Sorry, I can't help with that.",
            "I can't describe this scene.", "I don't know what is happening here.")
GENERIC = ("A person is standing outdoors in the daytime.", "A person is sitting indoors under bright lights.",
           "A person is standing outdoors in the daytime next to a tree and a bench.",
           "A person is sitting at a table with a chair in a room.")
TRUE_CASES = ("reference", "paraphrase", "2 wrong objects", "keywords alone")


def with_wrong_words(event, events):
    """The description with two of its listed objects swapped for objects of the next event."""
    other = events[(events.index(event) + 1) % len(events)]
    activity, listing = event["description"].split("The scene shows")
    for mine, theirs in zip(event["objects"][:2], [o for o in other["objects"] if o not in event["objects"]]):
        listing = listing.replace(f" {mine}", f" {theirs}", 1)
    return f"{activity}The scene shows{listing}"


def cases(events):
    """{case: [(prediction, target event), ...]}."""
    dump = " ".join(k for e in events for k in e["keywords"])
    return {
        "reference": [(e["description"], e) for e in events],
        "paraphrase": [(e["paraphrase"], e) for e in events],
        "2 wrong objects": [(with_wrong_words(e, events), e) for e in events],
        "keywords alone": [(" ".join(e["keywords"]), e) for e in events],
        "keyword dump": [(dump, e) for e in events],
        "other event": [(o["description"], e) for e in events for o in events if o is not e],
        "generic scene": [(g, e) for e in events for g in GENERIC],
        "refusal": [(r, e) for e in events for r in REFUSALS],
        "empty": [("", e) for e in events],
    }


def judge_scores(judge, pairs, events):
    refs = [{"event_id": e["id"], "description": e["description"], "keywords": e["keywords"]} for _, e in pairs]
    predictions = [p for p, _ in pairs]
    if getattr(judge, "needs_events", False):
        return judge.score(predictions, refs, events=events)
    return judge.score(predictions, refs)


def rows(events):
    """One table row per case: mean and worst per judge (worst: min for true cases, max for adversaries)."""
    judges = {name: make_judge(name) for name in JUDGE_NAMES}
    for case, pairs in cases(events).items():
        cells = []
        for name, judge in judges.items():
            scores = judge_scores(judge, pairs, events)
            worst = min(scores) if case in TRUE_CASES else max(scores)
            cells.append(f"{statistics.mean(scores):.3f} | {worst:.3f}")
        yield f"| {case} | " + " | ".join(cells) + " |"


def main():
    for size in (40, 10):
        events = make_events(size, random.Random(0))
        print(f"\n{size} events (make_events({size}, random.Random(0)))\n")
        print("| case | " + " | ".join(f"{n} mean | {n} worst" for n in JUDGE_NAMES) + " |")
        print("|---|" + "---:|" * (2 * len(JUDGE_NAMES)))
        for row in rows(events):
            print(row)


if __name__ == "__main__":
    main()
