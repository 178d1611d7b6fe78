"""Cached stages: run a piece of work once per key; shared by `pebench demo` and `pebench sweep`.

A stage's output sits beside a hidden stamp (`.{name}.stage.json`) holding the key it was made with
(its command line plus the dataset fingerprint). The stamp is written only after the stage succeeded,
so an interrupted stage runs again and a finished one is skipped.
"""
import json
import sys
import time
from pathlib import Path

from pebench.errors import UserError
from pebench.io import atomic_write_text, file_sha256

STAMP = ".stage.json"


def stamp_path(output):
    output = Path(output)
    return output.parent / f".{output.name}{STAMP}"


def is_done(output, key):
    """Does `output` exist beside a stamp with this key?"""
    stamp = stamp_path(output)
    return stamp.exists() and json.loads(stamp.read_text()) == key and Path(output).exists()


def cached(name, output, key, work):
    """Call `work()` (it returns an exit code) unless `output` exists beside a stamp with the same key.

    A stale output (other key) is replaced by the stage itself. Returns True when the work ran.
    """
    if is_done(output, key):
        print(f"[skip] {name}: {output} is up to date", file=sys.stderr)
        return False
    print(f"[run]  {name}", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    code = work()
    if code:
        raise UserError(f"stage '{name}' failed (exit {code}); run the same command again to resume")
    atomic_write_text(stamp_path(output), json.dumps(key))
    print(f"[done] {name} in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    return True


CARDS = ("pebench_train.json", "unlearning.json")


def with_inputs(key, models=()):
    """`key` plus the sha256 of each input model's pebench cards: a re-made model re-runs what reads it.

    Computed when the stage is about to run, so a job can name a model that an earlier stage of it makes.
    """
    cards = [card for model in models for card in sorted(Path(model).glob("*.json")) if card.name in CARDS]
    return [*key, *[file_sha256(card) for card in cards]]
