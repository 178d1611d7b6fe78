"""Reading a submission file safely, and the rules for the strings a submitter controls.

A submission is one JSON file in `leaderboard/submissions/`: an envelope (name, link, notes) around one
result file written by `pebench evaluate`. Everything in it is untrusted: the file may be huge, not JSON,
carry NaN, a link to `javascript:`, or a symlink pointing out of the folder. Each such case raises
`Refused` with one line saying why, so the board can list it and go on with the other entries.
"""
import json
import math
import re
import unicodedata
from pathlib import Path
from urllib.parse import urlsplit

SUBMISSION_VERSION = "1.0"
MAX_BYTES = 32 * 1024 * 1024  # a full-release result with every per-sample record is a few MB
MAX_NAME = 80
MAX_NOTES = 1000
MAX_LINK = 500
SAFE_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,150}\.json")
ENVELOPE_KEYS = {"submission_version", "name", "link", "notes", "result", "seeds", "setting"}
MAX_SEEDS = 20
MAX_SETTING = 30


class Refused(Exception):
    """A submission the board leaves out; the message is the reason shown on the board."""


def check_file_name(name):
    """Refuse file names that are not plain `[A-Za-z0-9._-]+.json` (no dot files, no separators)."""
    if not SAFE_FILE.fullmatch(name) or ".." in name:
        raise Refused(f"unsafe file name {name!r}: use letters, digits, '.', '_', '-' and end in .json")


def check_name(name):
    """A display name: 1..80 printable characters, no markup, nothing that reads as a path."""
    if not isinstance(name, str) or not name.strip():
        raise Refused("name is missing or empty")
    if len(name) > MAX_NAME:
        raise Refused(f"name is longer than {MAX_NAME} characters")
    if _has_control(name):
        raise Refused("name contains control characters")
    if any(c in name for c in "<>"):
        raise Refused("name contains '<' or '>' (markup is not allowed in names)")
    if "/" in name or "\\" in name or ".." in name:
        raise Refused("name contains '/', '\\' or '..' (path traversal is not allowed)")


def check_link(link):
    """An optional link: empty, or an absolute http(s) URL with a host and no spaces or quotes."""
    if link in ("", None):
        return
    if not isinstance(link, str) or len(link) > MAX_LINK:
        raise Refused(f"link must be a string of at most {MAX_LINK} characters")
    if _has_control(link) or any(c in link for c in " \"'<>\\`"):
        raise Refused("link contains spaces, quotes, '<', '>' or control characters")
    parts = urlsplit(link)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Refused(f"link {link!r} is not an absolute http(s) URL")


def check_notes(notes):
    """Optional free text, at most 1000 characters, newlines and tabs allowed."""
    if notes in ("", None):
        return
    if not isinstance(notes, str) or len(notes) > MAX_NOTES:
        raise Refused(f"notes must be a string of at most {MAX_NOTES} characters")
    if _has_control(notes.replace("\n", " ").replace("\t", " ")):
        raise Refused("notes contain control characters")


def _has_control(text):
    return any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text)


def parse_json(data, what="file"):
    """Strict JSON: bytes must be UTF-8; NaN/Infinity literals, overflowing numbers and duplicate keys
    are refused, because each would let one file mean two things."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise Refused(f"{what} is not UTF-8 text ({err.reason} at byte {err.start})") from None
    try:
        obj = json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as err:
        raise Refused(f"{what} is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}") from None
    except RecursionError:
        raise Refused(f"{what} is nested too deeply") from None
    check_finite(obj)
    return obj


def _refuse_constant(name):
    raise Refused(f"non-finite number {name} (only finite numbers are allowed)")


def _no_duplicates(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise Refused(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def check_finite(obj, path="$"):
    """Walk `obj`; a float that is NaN or infinite (e.g. `1e999` parses as inf) is refused."""
    stack = [(obj, path)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            raise Refused(f"non-finite number {value} at {where}")
        if isinstance(value, dict):
            stack.extend((v, f"{where}.{k}") for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(value))


def read_bounded(path, max_bytes=MAX_BYTES):
    """Read at most `max_bytes` from a regular file; refuse bigger files before reading them."""
    path = Path(path)
    if path.is_symlink():
        raise Refused("symbolic links are not accepted (the file must live in the submissions folder)")
    if not path.is_file():
        raise Refused("not a regular file")
    size = path.stat().st_size
    if size > max_bytes:
        raise Refused(f"file is {size:,} bytes, over the {max_bytes:,}-byte limit")
    with open(path, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise Refused(f"file grew over the {max_bytes:,}-byte limit while being read")
    return data


def check_envelope(entry):
    """The submission envelope: exactly the known keys, a supported version, valid name/link/notes."""
    if not isinstance(entry, dict):
        raise Refused("a submission must be a JSON object")
    if "result" not in entry and "records" in entry:
        raise Refused("this is a bare result file; package it with `pebench submit RESULT.json --name ...`")
    missing = sorted({"submission_version", "name", "result"} - set(entry))
    if missing:
        raise Refused(f"missing key(s): {', '.join(missing)}")
    unknown = sorted(set(entry) - ENVELOPE_KEYS)
    if unknown:
        raise Refused(f"unknown key(s): {', '.join(unknown)}; allowed: {', '.join(sorted(ENVELOPE_KEYS))}")
    if entry["submission_version"] != SUBMISSION_VERSION:
        raise Refused(f"submission_version {entry['submission_version']!r} is not supported "
                      f"(this board reads {SUBMISSION_VERSION!r})")
    check_name(entry["name"])
    check_link(entry.get("link"))
    check_notes(entry.get("notes"))
    if not isinstance(entry["result"], dict):
        raise Refused("'result' must be a JSON object (a result file from `pebench evaluate`)")
    check_seeds(entry.get("seeds", []))
    check_setting(entry.get("setting", {}))


def check_seeds(seeds):
    """Optional further results of the same method and setting, other seeds (`pebench sweep`); each is
    verified like `result`, and the board shows the mean and std over all of them."""
    if not isinstance(seeds, list) or len(seeds) > MAX_SEEDS or not all(isinstance(r, dict) for r in seeds):
        raise Refused(f"'seeds' must be a list of at most {MAX_SEEDS} result objects")


def check_setting(setting):
    """Optional hyper-parameters a sweep chose: {key: number, string, bool or null}, shown on the board."""
    if not isinstance(setting, dict) or len(setting) > MAX_SETTING:
        raise Refused(f"'setting' must be an object of at most {MAX_SETTING} key: value pairs")
    for key, value in setting.items():
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,40}", key):
            raise Refused(f"setting key {key!r} is not a lower-case identifier")
        if not (value is None or isinstance(value, (bool, int, float)) or (isinstance(value, str) and len(value) <= 80
                                                                          and not _has_control(value))):
            raise Refused(f"setting {key} must be a number, a short string, true/false or null")


def load_submission(path, max_bytes=MAX_BYTES):
    """Read and check one submission file's envelope; the result inside is verified by `verify`.

    Raises:
        Refused: with the reason, for every way the file can be unsafe or malformed.
    """
    path = Path(path)
    check_file_name(path.name)
    entry = parse_json(read_bounded(path, max_bytes))
    check_envelope(entry)
    return entry
