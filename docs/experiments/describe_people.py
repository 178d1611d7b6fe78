"""Can a base say what an unseen person looks like? (Is the face path alive after pretraining?)

    python docs/experiments/describe_people.py MODEL [MODEL ...]

Asks the single-attribute questions of `--describe-people` (`data_builders.scenes.ASKED_ATTRIBUTES`) on
100 pretraining scenes no base trained on (6000-6099 of the describing corpus) and prints the share of exact
answers per attribute, with chance (one over the attribute's values) beside it.
"""
import collections
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from data_builders.catalogue import ATTRIBUTES  # noqa: E402
from data_builders.pretrain import scene_index  # noqa: E402
from data_builders.scenes import ASKED_ATTRIBUTES, scene_rows  # noqa: E402
from pebench.adapter import VLM  # noqa: E402

rows = [r for r in scene_rows(6100, 64, seed=0, describe=True)
        if r["negative_kind"] == "attribute" and scene_index(r) >= 6000]
asked = {q: k for k, (q, _) in ASKED_ATTRIBUTES.items()}
for model in sys.argv[1:]:
    answers = VLM.from_pretrained(model, dtype="float32").generate(rows, max_new_tokens=16)
    right, total = collections.Counter(), collections.Counter()
    for row, answer in zip(rows, answers):
        key = asked[row["question"]]
        total[key] += 1
        right[key] += answer.strip().rstrip(".") == row["answer"].rstrip(".")
    cells = ", ".join(f"{k} {right[k]}/{total[k]} (chance {1 / len(ATTRIBUTES[k]):.2f})" for k in sorted(total))
    print(f"{model}: exact {sum(right.values())}/{len(rows)}; {cells}")
