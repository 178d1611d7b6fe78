"""Generate a pebench dataset folder (people x events, images, QA, forget/retain configs).

Example: pebench build --out data/pebench --people 200 --events 40 --variants 2 --image-size 64 --seed 0
The folder loads offline with `datasets.load_dataset(FOLDER, "person_forget05", split="forget_train")`.
"""


def add_arguments(parser):
    parser.add_argument("--out", required=True, help="output folder (must not exist or be empty)")
    parser.add_argument("--people", type=int, default=200, help="people trained on (default 200)")
    parser.add_argument("--events", type=int, default=40, help="event scenes, at most 40 (default 40)")
    parser.add_argument("--variants", type=int, default=2, help="renderings per pair; 0 seen, >=1 unseen")
    parser.add_argument("--holdout", type=int, default=None, help="never-trained people (default 10%% of --people)")
    parser.add_argument("--image-size", type=int, default=64, help="image side in pixels (default 64)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--renderer", default="procedural", help="registered renderer or module:attr")
    parser.add_argument("--workers", type=int, default=None, help="rendering processes (default: cores)")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")


def generator_version():
    """What `pebench demo` keys its data stage with: a new version rebuilds the demo's data."""
    from data_builders.build import GENERATOR_VERSION

    return GENERATOR_VERSION


def run(args):
    import time

    from data_builders.build import build, read_metadata

    start = time.perf_counter()
    out = build(args.out, people=args.people, events=args.events, variants=args.variants,
                image_size=args.image_size, seed=args.seed, renderer=args.renderer, overwrite=args.overwrite,
                workers=args.workers, holdout=args.holdout, progress=True)
    meta = read_metadata(out)
    print(f"wrote {out} in {time.perf_counter() - start:.1f} s: {meta['people']} people (+{meta['holdout']} "
          f"holdout) x {meta['events']} events x {meta['variants']} variants; fingerprint {meta['fingerprint'][:12]}")
    return 0
