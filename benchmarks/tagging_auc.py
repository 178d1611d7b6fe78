"""Can the `small` ViT learn which objects a scene shows? Bag labels vs dense (per-patch) labels, same run.

    python benchmarks/tagging_auc.py [--scenes 3000] [--seconds 240]

Both taggers start from the same fresh `small` model and train for the same wall time on the same scenes
(AdamW, lr 1e-3, batch 64): *bag* is told only which catalogue objects are in each scene (multi-label BCE
on a log-sum-exp over patches); *dense* is told which object covers each patch (`pretrain.patch_labels`,
the stage `pebench pretrain` runs). Prints, every 100 steps, the presence AUC on 10 % held-out scenes
(score of "object k is in scene i" = its best patch) and finally the ratio of steps and the two AUCs.
docs/experiments/pretrain_tagging.log holds the runs the README cites.
"""
import argparse
import copy
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def scenes(count):
    from data_builders.catalogue import OBJECTS
    from data_builders.pretrain import patch_labels, shown_objects
    from data_builders.scenes import scene_corpus
    from pebench import tiny

    rows, maps = scene_corpus(count, 64, seed=0)
    images = [r["image"] for r in rows if r["negative_kind"] == "list"]
    model, processor = tiny.build(["hello world"], "small", 0)
    from io import BytesIO

    from PIL import Image

    pixels = processor.image_processor([Image.open(BytesIO(i["bytes"])).convert("RGB") for i in images],
                                       return_tensors="pt")["pixel_values"]
    patches = torch.stack([patch_labels(m, 8) for m in maps])  # 64 px, 8 x 8 patches of 8 px
    return model, pixels, patches, shown_objects(patches, len(OBJECTS))


def train(kind, model, pixels, patches, shown, seconds, cut, log):
    from data_builders.catalogue import OBJECTS
    from data_builders.pretrain import _tagger, presence_auc

    torch.manual_seed(0)
    tagger = _tagger(copy.deepcopy(model), len(OBJECTS) + 1)
    optimizer = torch.optim.AdamW(tagger.parameters(), lr=1e-3, weight_decay=0.0)

    def scores(x):
        logits = tagger(x)["logits"]
        if kind == "dense":
            return logits.log_softmax(-1)[:, :, 1:].amax(1)
        return torch.logsumexp(logits[:, :, 1:], dim=1)

    start, step, result = time.perf_counter(), 0, 0.5
    while time.perf_counter() - start < seconds:
        for batch in torch.randperm(cut).split(64):
            if kind == "dense":
                loss = tagger(pixels[batch], patches[batch])["loss"]
            else:
                loss = torch.nn.functional.binary_cross_entropy_with_logits(scores(pixels[batch]), shown[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            if step % 100 == 0:
                with torch.no_grad():
                    result = presence_auc(scores(pixels[cut:]), shown[cut:])
                log(f"{kind} step {step} t={time.perf_counter() - start:.0f}s loss {loss.item():.4f} "
                    f"held-out presence AUC {result:.3f}")
            if time.perf_counter() - start > seconds:
                break
    with torch.no_grad():
        result = presence_auc(scores(pixels[cut:]), shown[cut:])
    return step, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=240)
    args = parser.parse_args()
    model, pixels, patches, shown = scenes(args.scenes)
    cut = int(0.9 * args.scenes)
    results = {kind: train(kind, model, pixels, patches, shown, args.seconds, cut, lambda m: print(m, flush=True))
               for kind in ("bag", "dense")}
    for kind, (steps, result) in results.items():
        print(f"{kind}: {steps} steps in {args.seconds:.0f} s, held-out presence AUC {result:.3f}")
    print(f"dense / bag: {results['dense'][0] / results['bag'][0]:.2f}x the steps, "
          f"AUC {results['dense'][1]:.3f} vs {results['bag'][1]:.3f}")


if __name__ == "__main__":
    main()
