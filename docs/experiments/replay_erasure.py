"""Does replaying the base's own corpus keep its world knowledge through fine-tuning? (demo size)

    python docs/experiments/replay_erasure.py BASE DATA OUT [--replay N] [--presence-only] [--lr LR] [--lora RANK]
                                              [--epochs 12] [--with-world] [--threads 1]

At full size the release's world questions are 2 % of the rows and 4 epochs of fine-tuning took the base's
POPE accuracy from 59.3 % to 50.0 %; at demo size they are 30 % and teach world themselves. This mimics full
size on the demo: it fine-tunes BASE on DATA's `full/train` rows WITHOUT their `world_object` rows (12 epochs,
the demo's settings), with `--replay N` rows of the base's corpus mixed in (`pebench train --replay`), and
saves the model to OUT; score it with benchmarks/world_pope.py OUT DATA. BASE must hold replay rows
(`pebench pretrain` writes them; for an older base, `--make-replay` writes them from the regenerated corpus).
"""
import sys as _sys
from pathlib import Path as _Path
_sys.path.insert(0, str(_Path(__file__).resolve().parents[2]))
import argparse, json
from pathlib import Path

ap = argparse.ArgumentParser()
ap.add_argument("base"); ap.add_argument("data"); ap.add_argument("out")
ap.add_argument("--replay", type=int, default=0); ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--lr", type=float, help="fine-tuning lr (default: the base's, 1e-3)")
ap.add_argument("--lora", type=int, default=0, help="train LoRA adapters of this rank on the decoder (default: all weights)")
ap.add_argument("--epochs", type=float, default=12)
ap.add_argument("--with-world", action="store_true", help="keep the release's world rows (the demo's own setting)")
ap.add_argument("--presence-only", action="store_true",
                help="replay only the corpus's presence questions (negative_kind present/absent)")
ap.add_argument("--make-replay", action="store_true",
                help="write replay.parquet into BASE from its regenerated corpus (same seed) and record it in its card")
args = ap.parse_args()
import torch
torch.set_num_threads(args.threads)
from pebench import data, schema, training

if args.make_replay:
    import datasets
    from data_builders.pretrain import write_replay
    from data_builders.scenes import scene_corpus
    card_path = Path(args.base, training.PRETRAIN_CARD)
    card = json.loads(card_path.read_text())
    people = data.load_split(args.data, "people", "train")
    release = [{"name": n, "attributes": json.loads(a)} for n, a in zip(people["name"], people["attributes"])]
    rows, _ = scene_corpus(card["corpus"]["scenes"], data.metadata(args.data)["image_size"], card["seed"],
                           release=release, describe=card["corpus"]["describe_people"])
    corpus = datasets.Dataset.from_list(rows, features=schema.QA_FEATURES)
    card["replay"] = write_replay(corpus, args.base, card["seed"])
    card_path.write_text(json.dumps(card, indent=2))
    print("replay rows written:", card["replay"])
    raise SystemExit(0)

if args.presence_only:
    replay = training.replay_rows

    def presence_rows(model, count, features):
        rows, entry = replay(model, 4000, features)
        rows = rows.filter(lambda kind: kind in ("present", "absent"), input_columns="negative_kind")
        return rows.select(range(count)), {**entry, "rows": count, "presence_only": True}

    training.replay_rows = presence_rows
plain = training.train_rows
if not args.with_world:
    training.train_rows = lambda *a: plain(*a).filter(lambda task: task != schema.WORLD_OBJECT, input_columns="task")
card = training.train(args.data, "person_forget05", "full", args.base, args.out, epochs=args.epochs, lr=args.lr,
                      replay=args.replay, lora=args.lora)
print(f"{args.out}: {card['rows']} rows (replay {args.replay}), {card['steps']} steps, {card['wall_time_s']:.0f} s")
