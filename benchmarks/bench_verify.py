"""Verifying one leaderboard entry: today's pipeline against v0.1's way of doing the same work, same run.

    python benchmarks/bench_verify.py [--people 200 --events 40]

Builds a release (200 x 40 by default, the full size), makes one person_forget05 result with every
record field a real evaluation writes (predictions = reference answers, seeded random log-probs), and
times `leaderboard.verify.verify_result` (schema, coverage, recompute of every cell with 1,000 bootstrap
resamples, comparison). The baseline swaps back, one at a time and then together, what v0.1 did: the
bootstrap evaluating the statistic once per resample, the schema checked by `jsonschema` alone, and
Porter stemming without a memo. Goal: <= 1 s per full-size entry.
"""
import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CONFIG = "person_forget05"


def looped_bootstrap(plan, resamples, seed, name):
    """The same intervals, one statistic call per resample (the baseline)."""
    import zlib

    if resamples <= 0:
        return None
    rng = np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])
    picks = [rng.integers(0, len(g), size=(resamples, len(g))) for g in plan.groups]
    values = [float(plan.statistic(*[g[p[b]][None] for g, p in zip(plan.groups, picks)])[0])
              for b in range(resamples)]
    low, high = np.percentile(np.asarray(values), [2.5, 97.5])
    return [float(low), float(high)]


def full_result(data_dir):
    """A synthetic result holding every field the cells read, like a real evaluation's."""
    from leaderboard.example import synthetic_result
    from pebench import data, results
    from pebench.schema import PERSON_NAME, source_of

    rng = random.Random(0)
    result = synthetic_result(data_dir, CONFIG, "ga", True, 3)
    records = {(r["split"], r["id"]): r for r in result["records"]}
    for split in ("forget_train", "forget_unseen", "retain_test", "holdout"):
        for row in data.load_rows(data_dir, *source_of(CONFIG, split), columns=["id", "task"]):
            record = records.setdefault((split, row["id"]), {"id": row["id"], "split": split, "task": row["task"],
                                                             "prediction": None})
            if row["task"] != PERSON_NAME:
                continue
            record["logprobs"] = [round(rng.uniform(-4, 0), 6) for _ in range(8)]
            record.update(mean=[-2.0] * 8, std=[1.0] * 8)
            if split in ("forget_train", "retain_test"):
                record.update(paraphrase_nll=rng.uniform(0.1, 3), perturbed_nll=[rng.uniform(0.1, 3) for _ in range(3)])
    result["records"] = list(records.values())
    return results.recompute(result, data_dir)


def unmemoised():
    """v0.1's tokenization: rouge_score's DefaultTokenizer, stemming every word again."""
    from rouge_score import rouge_scorer
    from rouge_score.tokenizers import DefaultTokenizer

    from pebench.judges import keyword_rouge
    from pebench.metrics import rouge_l

    plain = DefaultTokenizer(use_stemmer=True)
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return [(keyword_rouge, "tokenize", plain.tokenize), (rouge_l, "_scorer", lambda: scorer)]


class swapped:
    """Set module attributes for the duration of a `with` block."""

    def __init__(self, swaps):
        self.swaps, self.saved = swaps, []

    def __enter__(self):
        self.saved = [(module, name, getattr(module, name)) for module, name, _ in self.swaps]
        for module, name, value in self.swaps:
            setattr(module, name, value)

    def __exit__(self, *exc):
        for module, name, value in self.saved:
            setattr(module, name, value)


def timed(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv=None):
    import data_builders
    from leaderboard import verify
    from pebench import data, results
    from pebench.metrics import _table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--events", type=int, default=40)
    args = parser.parse_args(argv)
    import datasets

    datasets.disable_progress_bars()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = data_builders.build(Path(tmp) / "data", people=args.people, events=args.events, seed=0)
        result = full_result(data_dir)
        fingerprint = data.fingerprint(data_dir)
        verify.verify_result(result, data_dir, fingerprint)  # warm the reference and split caches

        def run():
            return verify.verify_result(result, data_dir, fingerprint)

        fast = timed(run, 3)
        v01 = {"per-resample bootstrap": [(_table, "bootstrap", looped_bootstrap)],
               "jsonschema only": [(results, "_passes_fast_check", lambda r: False)],
               "unmemoised stemming": unmemoised()}
        rows = []
        for name, swap in v01.items():
            with swapped(swap):
                rows.append((name, timed(run, 1)))
        with swapped([pair for swap in v01.values() for pair in swap]):
            same = run()
            slow = timed(run, 1)
    gap = max(abs(a - b) for k in result["ci95"] for a, b in zip(result["ci95"][k], same["ci95"][k]))
    print(f"{args.people} x {args.events}: {len(result['records'])} records, {len(result['aggregates'])} cells; "
          f"largest interval difference against the baseline: {gap:.1e}")
    print("\n| verify one entry | seconds | vs today |\n|---|---|---|")
    print(f"| v0.1's way (all three below) | {slow:.2f} | {slow / fast:.1f}x |")
    for name, seconds in rows:
        print(f"| today, but {name} | {seconds:.2f} | {seconds / fast:.1f}x |")
    print(f"| today | {fast:.2f} | 1.0x |  (goal <= 1 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
