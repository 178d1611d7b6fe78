"""Batched vs per-sample generation on the same model and questions, and one config's evaluation wall time.

Usage: python benchmarks/bench_generate.py [--people 50 --events 10 --preset small --rows 64 --threads 1]
(defaults: the `demo` preset's dataset size and model). The model is the preset built for the dataset,
untrained: it never emits EOS, so every answer runs the full `--max-new-tokens` in both modes and the
two loops do the same work. Target: batched >= 5x faster than one row at a time.
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--events", type=int, default=10)
    parser.add_argument("--preset", default="small", help="tiny model preset (pebench.tiny.PRESETS)")
    parser.add_argument("--rows", type=int, default=64, help="questions to generate for")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 avoids OpenMP contention)")
    parser.add_argument("--skip-eval", action="store_true", help="only the generation comparison")
    args = parser.parse_args(argv)

    import os

    work = Path(tempfile.mkdtemp(prefix="bench-generate-"))
    os.environ.update(HF_HOME=str(work / "hf"), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    import torch

    import data_builders
    from pebench import tiny
    from pebench.adapter import VLM
    from pebench.evaluation import evaluate, load_splits

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    data = data_builders.build(work / "data", people=args.people, events=args.events, seed=0)
    model = work / "model"
    tiny.create(data, model, args.preset, 0)
    print(f"setup (build {args.people} people x {args.events} events, create {args.preset!r}): "
          f"{time.perf_counter() - start:.1f} s")

    splits = load_splits(data, "person_forget05")
    rows = [r for s in ("forget_train", "retain_test", "scope") for r in splits[s]][: args.rows]
    vlm = VLM.from_pretrained(str(model))
    vlm.generate(rows[:2], max_new_tokens=2)  # warm-up
    start = time.perf_counter()
    batched = vlm.generate(rows, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    t_batched = time.perf_counter() - start
    start = time.perf_counter()
    single = [vlm.generate([row], max_new_tokens=args.max_new_tokens, batch_size=1)[0] for row in rows]
    t_single = time.perf_counter() - start
    same = sum(a == b for a, b in zip(batched, single)) / len(rows)
    ratio = t_single / t_batched
    print(f"generation, {len(rows)} rows x {args.max_new_tokens} tokens, {args.threads} thread(s): "
          f"per-sample {t_single:.2f} s, batched (batch {args.batch_size}) {t_batched:.2f} s -> {ratio:.1f}x "
          f"(target >= 5x: {'met' if ratio >= 5 else 'NOT met'}); identical answers {same:.0%}")

    if not args.skip_eval:
        start = time.perf_counter()
        result = evaluate(data, "person_forget05", model, batch_size=args.batch_size, max_new_tokens=args.max_new_tokens,
                          progress=False)
        print(f"evaluate person_forget05 ({len(result['records'])} records, bootstrap 1000): "
              f"{time.perf_counter() - start:.1f} s")
    return 0 if ratio >= 5 else 1


if __name__ == "__main__":
    sys.exit(main())
