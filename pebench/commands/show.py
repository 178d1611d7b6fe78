"""Draw a release's preview grid: people x events, the seen rendering beside an unseen one, as a PNG.

Examples:
  pebench show --data data/pebench --out grid.png
  pebench show --data data/pebench --out grid.png --people p003,"Tomas Olivares" --events e00,e07
People and events are given by id or name, comma-separated (default: the first 4 trained people and the
first 5 events, the grid of the dataset card's preview.png).
"""


def add_arguments(parser):
    parser.add_argument("--data", required=True, help="dataset folder written by `pebench build`")
    parser.add_argument("--out", required=True, help="PNG file to write (atomically)")
    parser.add_argument("--people", help="comma-separated person ids or names (rows of the grid)")
    parser.add_argument("--events", help="comma-separated event ids or names (columns of the grid)")
    parser.add_argument("--thumb", type=int, help="side of each rendering in pixels (default: its own, at most 128)")


def run(args):
    from pebench.errors import UserError
    from pebench.io import atomic_write_bytes
    from pebench.preview import png_bytes, release_grid

    if args.thumb is not None and not 16 <= args.thumb <= 512:
        raise UserError(f"--thumb must be between 16 and 512 pixels, got {args.thumb}")
    grid = release_grid(args.data, _names(args.people), _names(args.events), args.thumb)
    try:
        atomic_write_bytes(args.out, png_bytes(grid))
    except OSError as err:
        raise UserError(f"cannot write {args.out}: {err.strerror}") from None
    print(f"wrote {args.out} ({grid.width} x {grid.height} px)")
    return 0


def _names(text):
    return [part.strip() for part in text.split(",") if part.strip()] if text else None
