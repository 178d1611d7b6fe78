"""Dataset build rate vs the bare Pillow PNG-encode rate of the same images, measured in one run.

Usage: python benchmarks/bench_build.py [--people 200] [--events 40] [--variants 2] [--image-size 64]
Prints: build wall time, images/s, the bare encode rate of the same rendered images, their ratio
(goal >= 0.5), disk size, and warm `load_dataset` time for one config (goal <= 3 s).
"""
import argparse
import io
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def bare_encode_rate(people, events, variants, size, seed, limit=2000):
    """PNG-encode already rendered images with plain Pillow: the floor any builder pays per image."""
    from data_builders.events import make_events
    from data_builders.people import make_people
    from data_builders.renderers import RENDERERS

    render = RENDERERS.get("procedural")
    folk = make_people(people, random.Random(seed))[0]
    scenes = make_events(events, random.Random(seed))
    images = [render(p, e, v, size, seed)[0] for p in folk for e in scenes for v in range(variants)][:limit]
    start = time.perf_counter()
    for image in images:
        image.save(io.BytesIO(), format="PNG", compress_level=6)
    return len(images) / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--variants", type=int, default=2)
    parser.add_argument("--image-size", type=int, default=64)
    args = parser.parse_args()
    import datasets

    import data_builders

    work = Path(tempfile.mkdtemp(prefix="pebench-bench-"))
    os.environ["HF_DATASETS_CACHE"] = str(work / "cache")
    try:
        start = time.perf_counter()
        out = data_builders.build(work / "data", people=args.people, events=args.events, variants=args.variants,
                                  image_size=args.image_size)
        build_s = time.perf_counter() - start
        meta = data_builders.read_metadata(out)
        images = (meta["people"] + meta["holdout"]) * meta["events"] * meta["variants"]
        bare = bare_encode_rate(args.people, args.events, args.variants, args.image_size, 0)
        size_mb = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**20
        datasets.load_dataset(str(out), "person_forget05")  # cold: prepares the arrow cache
        start = time.perf_counter()
        datasets.load_dataset(str(out), "person_forget05")
        warm_s = time.perf_counter() - start
        rate = images / build_s
        print(f"build {args.people}x{args.events}x{args.variants} @ {args.image_size}px: {build_s:.1f} s, "
              f"{images} images, {rate:.0f} images/s on {os.cpu_count()} cores")
        print(f"bare Pillow PNG encode (1 core): {bare:.0f} images/s; build/bare ratio {rate / bare:.2f} (goal >= 0.5)")
        print(f"disk: {size_mb:.1f} MiB; load_dataset person_forget05 warm: {warm_s:.2f} s (goal <= 3 s)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
