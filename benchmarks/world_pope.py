"""POPE accuracy of any model on a release's world questions, by negative kind (is world knowledge there?).

    python benchmarks/world_pope.py MODEL DATA [--scenes]

Greedy answers to the release's `world/test` rows (or, with `--scenes`, to 300 presence questions on
pretraining scenes the base never trained on: scenes 6000-6099 of the corpus), scored by
`pebench.metrics.pope`: accuracy, precision, recall, F1 and yes-ratio, then accuracy per kind (present,
random, popular, adversarial). Used for the README's *Pretrained base* figures.
"""
import argparse
import collections
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def held_out_scene_rows(first=6000, count=100, size=64):
    """Presence questions on scenes `first`.. of the pretraining corpus (the `small` base trains on 0-5999)."""
    from data_builders.pretrain import scene_index
    from data_builders.scenes import scene_rows

    rows = scene_rows(first + count, size, seed=0)
    return [r for r in rows if r["negative_kind"] in ("present", "absent") and scene_index(r) >= first]


def main():
    import datasets

    from pebench import data, schema
    from pebench.adapter import VLM
    from pebench.metrics.pope import pope, pope_correct

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("data")
    parser.add_argument("--scenes", action="store_true", help="held-out pretraining scenes instead of the release")
    args = parser.parse_args()
    if args.scenes:
        rows = list(datasets.Dataset.from_list(held_out_scene_rows()[:300], features=schema.QA_FEATURES))
    else:
        rows = list(data.load_split(args.data, "world", "test"))
    answers = [r["answer"] for r in rows]
    predictions = VLM.from_pretrained(args.model, dtype="float32").generate(rows, max_new_tokens=8)
    print(f"{args.model}: {len(rows)} questions",
          {k: round(v, 3) for k, v in pope(predictions, answers).items()})
    kinds = collections.defaultdict(list)
    for row, right in zip(rows, pope_correct(predictions, answers)):
        kinds[row["negative_kind"] if row["answer"].startswith("No") else "present"].append(right)
    print("accuracy by kind:", {k: f"{sum(v) / len(v):.3f} of {len(v)}" for k, v in sorted(kinds.items())})


if __name__ == "__main__":
    main()
