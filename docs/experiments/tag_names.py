"""Stage 1 of `pebench pretrain` alone (object tagging in the projector, names written by its output layer).

    python docs/experiments/tag_names.py OUT [--threads 1]

Saves the tagged `small` model for the demo release (runs/demo/data), the 6,000-scene corpus and its
object maps into OUT, so that `glimpse_stage.py` can try language-model stages without re-running the
5-10 min tagging. Same seed, corpus and settings as `pebench pretrain --model small --tokens names`.
"""
import argparse
import json
import pickle
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("out")
parser.add_argument("--threads", type=int, default=1)
args = parser.parse_args()

import datasets  # noqa: E402
import torch  # noqa: E402
from transformers import set_seed  # noqa: E402

import data_builders.pretrain as pretrain  # noqa: E402
from data_builders.scenes import scene_corpus  # noqa: E402
from pebench import data, schema, tiny  # noqa: E402
from pebench.adapter import VLM  # noqa: E402

torch.set_num_threads(args.threads)
source = "runs/demo/data"
meta = data.metadata(source)
people = data.load_split(source, "people", "train")
release = [{"name": n, "attributes": json.loads(a)} for n, a in zip(people["name"], people["attributes"])]
rows, maps = scene_corpus(6000, meta["image_size"], 0, meta.get("renderer", "procedural"), release=release)
corpus = datasets.Dataset.from_list(rows, features=schema.QA_FEATURES)
set_seed(0)
model, processor = tiny.build([*tiny.dataset_texts(source), *pretrain._texts(rows)], "small", 0)
out = Path(args.out)
work = out.parent / f".{out.name}.work"
model.save_pretrained(work / "fresh")
processor.save_pretrained(work / "fresh")
vlm = VLM.from_pretrained(work / "fresh", dtype="float32")
images = [row["image"] for row in corpus if row["negative_kind"] == "list"]
size = pretrain.SIZES["small"]
print(pretrain.tag_objects(vlm, images, maps, size["vision_epochs"], size["vision_lr"], 0, work, name_tokens=True),
      flush=True)
vlm.model.save_pretrained(out)
vlm.processor.save_pretrained(out)
corpus.save_to_disk(str(out / "corpus"))
with open(out / "maps.pkl", "wb") as f:
    pickle.dump(maps, f)
