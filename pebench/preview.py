"""The preview grid: people x events, each cell the seen rendering beside an unseen one.

One drawing function serves the dataset card (the builder draws from the rows it holds in memory) and
`pebench show` (reads any release through `pebench.data`), so the card's picture and the command's are
the same bytes. The bytes are deterministic: a fixed layout, Pillow's built-in bitmap font (no FreeType
version in the pixels), no PNG metadata.
"""
import textwrap
from io import BytesIO

from pebench import data
from pebench.errors import UserError
from pebench.schema import PERSON_NAME

FILE = "preview.png"  # the grid's name in a release folder (the card embeds it)
DEFAULT_PEOPLE, DEFAULT_EVENTS = 4, 5
VARIANTS = (0, 1)  # seen in fine-tuning, first unseen rendering
THUMB_MAX = 128  # larger renderings are shrunk to this side
PAD, GAP, LABEL_W, LINE = 6, 2, 96, 12
HEADER_H = 3 * LINE  # two lines of event name, one of "seen / unseen"
INK, PAPER, MISSING = (40, 40, 40), (255, 255, 255), (220, 220, 220)


def grid_size(n_people, n_events, thumb):
    """(width, height) in pixels of a grid of `n_people` rows and `n_events` columns."""
    return (PAD + LABEL_W + n_events * (2 * thumb + GAP + PAD),
            PAD + HEADER_H + n_people * (thumb + PAD))


def cell_box(row, column, variant, thumb):
    """Pixel box (left, top, right, bottom) of one rendering: person `row`, event `column`, variant 0 or 1."""
    left = PAD + LABEL_W + column * (2 * thumb + GAP + PAD) + variant * (thumb + GAP)
    top = PAD + HEADER_H + row * (thumb + PAD)
    return left, top, left + thumb, top + thumb


def draw_grid(people, events, images, thumb=None):
    """Draw the grid and return it as a PIL image.

    Args:
        people: [(person_id, name)] in row order.
        events: [(event_id, name)] in column order.
        images: {(person_id, event_id, variant): PIL image} for variants 0 and 1; a missing one is grey.
        thumb: side of each rendering in pixels (default: the renderings' own side, at most `THUMB_MAX`).
    """
    from PIL import Image, ImageDraw

    if not people or not events:
        raise UserError("the preview grid needs at least one person and one event")
    thumb = thumb or min(max([*(im.width for im in images.values()), 32]), THUMB_MAX)
    grid = Image.new("RGB", grid_size(len(people), len(events), thumb), PAPER)
    pen, font = ImageDraw.Draw(grid), _font()
    for column, (_, name) in enumerate(events):
        left = cell_box(0, column, 0, thumb)[0]
        _text(pen, font, (left, PAD), _wrapped(name, 2 * thumb + GAP, 2))
        for variant, label in zip(VARIANTS, ("seen", "unseen")):
            _text(pen, font, (cell_box(0, column, variant, thumb)[0], PAD + 2 * LINE), [label])
    for row, (pid, name) in enumerate(people):
        top = cell_box(row, 0, 0, thumb)[1]
        _text(pen, font, (PAD, top), [*_wrapped(name, LABEL_W - PAD, 2), pid])
        for column, (eid, _) in enumerate(events):
            for variant in VARIANTS:
                box = cell_box(row, column, variant, thumb)
                image = images.get((pid, eid, variant))
                if image is None:
                    pen.rectangle((box[0], box[1], box[2] - 1, box[3] - 1), fill=MISSING)
                else:
                    grid.paste(_fit(image, thumb), box[:2])
    return grid


def png_bytes(image):
    """The grid as PNG bytes: fixed compression, no metadata, so the same pixels give the same bytes."""
    buffer = BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=9)
    return buffer.getvalue()


def choose(available, wanted, kind, default_count):
    """The (id, name) pairs asked for, by id or by name (case-insensitive); the first few by default.

    Args:
        available: [(id, name)] in id order; the default picks from the start of it.
        wanted: ids or names, or None/empty for the default.
    """
    if not wanted:
        return list(available[:default_count])
    by_key = {key.lower(): (pid, name) for pid, name in available for key in (pid, name)}
    chosen = []
    for item in wanted:
        if item.strip().lower() not in by_key:
            examples = ", ".join(f"{pid} ({name})" for pid, name in available[:3])
            raise UserError(f"unknown {kind} {item!r}; give ids or names, e.g. {examples}")
        if by_key[item.strip().lower()] not in chosen:
            chosen.append(by_key[item.strip().lower()])
    return chosen


def release_grid(data_dir, people=None, events=None, thumb=None):
    """The grid of a release folder: the chosen people (default: the first trained ones) x events."""
    people_rows = sorted(data.load_rows(data_dir, "people", "train", ["id", "name", "holdout"]),
                         key=lambda r: r["id"])
    event_rows = sorted(data.load_rows(data_dir, "events", "train", ["id", "name"]), key=lambda r: r["id"])
    trained = [(r["id"], r["name"]) for r in people_rows if not r["holdout"]]
    everyone = trained if not people else [(r["id"], r["name"]) for r in people_rows]
    chosen_people = choose(everyone, people, "person", DEFAULT_PEOPLE)
    chosen_events = choose([(r["id"], r["name"]) for r in event_rows], events, "event", DEFAULT_EVENTS)
    holdout = {r["id"] for r in people_rows if r["holdout"]}
    sources = [("full", "train"), ("full", "test")]
    if holdout & {pid for pid, _ in chosen_people}:
        sources.append(("holdout", "test"))
    pairs = {(p, e) for p, _ in chosen_people for e, _ in chosen_events}
    images = {}
    for config, split in sources:
        images.update(_name_images(data.load_split(data_dir, config, split), pairs))
    return draw_grid(chosen_people, chosen_events, images, thumb)


def _name_images(dataset, pairs):
    """{(person, event, variant): image} from the `person_name` rows of `pairs` (images decoded only there)."""
    keys = zip(dataset["task"], dataset["person_id"], dataset["event_id"], dataset["variant"])
    picked = [i for i, (task, pid, eid, variant) in enumerate(keys)
              if task == PERSON_NAME and (pid, eid) in pairs and variant in VARIANTS]
    return {(r["person_id"], r["event_id"], r["variant"]): r["image"] for r in dataset.select(picked)}


def _fit(image, thumb):
    from PIL import Image

    image = image.convert("RGB")
    return image if image.size == (thumb, thumb) else image.resize((thumb, thumb), Image.Resampling.LANCZOS)


def _font():
    """Pillow's built-in bitmap font: the same pixels whatever FreeType is installed (Pillow >= 10.1)."""
    from PIL import ImageFont

    return getattr(ImageFont, "load_default_imagefont", ImageFont.load_default)()


def _wrapped(text, width, lines):
    """`text` wrapped to `width` pixels of the bitmap font (6 px a character), at most `lines` lines."""
    wrapped = textwrap.wrap(str(text), max(1, width // 6)) or [""]
    if len(wrapped) > lines:
        wrapped = [*wrapped[:lines - 1], textwrap.shorten(" ".join(wrapped[lines - 1:]), max(4, width // 6),
                                                          placeholder="...")]
    return wrapped


def _text(pen, font, origin, lines):
    for i, line in enumerate(lines):
        line = line.encode("latin-1", "replace").decode("latin-1")  # what the bitmap font can draw
        pen.text((origin[0], origin[1] + i * LINE), line, font=font, fill=INK)
