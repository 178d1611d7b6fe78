"""Procedural cartoon scenes in pure Pillow: deterministic, CPU-only, ~1 ms per 64 px image.

The person is drawn from their visual attributes (identity, identical in every scene); the event sets
the background (its setting tags), the six event objects and the pose. Each variant re-draws the nuisance
factors (position, scale, tilt, lighting, clutter, object layout), so an unseen variant is a new picture
of the same person in the same event, not a copy of memorised pixels.
"""
from PIL import Image, ImageDraw

from data_builders.catalogue import ATTRIBUTES, CLUTTER, OBJECTS
from data_builders.people import seeded
from data_builders.renderers import RENDERERS

SKIN = dict(zip(ATTRIBUTES["skin"], [(252, 226, 204), (230, 180, 140), (200, 145, 95), (165, 150, 90),
                                     (135, 85, 50), (80, 50, 30)]))  # far apart, so lighting cannot swap them
HAIR = dict(zip(ATTRIBUTES["hair_colour"], [(20, 20, 20), (110, 70, 35), (240, 210, 110), (190, 70, 30),
                                            (150, 150, 150), (40, 90, 220)]))
EYES = dict(zip(ATTRIBUTES["eye_colour"], [(90, 50, 20), (40, 110, 230), (40, 160, 70), (120, 130, 140)]))
SHIRT = dict(zip(ATTRIBUTES["shirt_colour"], [(220, 40, 40), (245, 140, 30), (245, 220, 40), (50, 170, 60),
                                              (30, 160, 160), (140, 60, 190), (240, 130, 190), (245, 245, 245)]))
PALETTE = [(200, 30, 30), (30, 90, 200), (240, 200, 20), (30, 150, 60), (150, 80, 30), (120, 40, 160),
           (250, 120, 20), (20, 20, 20), (230, 230, 230), (0, 170, 200), (240, 100, 160), (110, 110, 110),
           (160, 230, 60), (220, 0, 220)]  # 10 shapes x 14 colours: a pair of its own for each of the 139 objects
SHAPES = ("box", "disc", "triangle", "tree", "pole", "bar", "ring", "cross", "diamond", "wheels")


def _object_styles():
    """A (shape, colour) of its own for every object name in the catalogue, in a fixed order.

    Object i has shape i mod 10 and colour (i mod 10 + 11 * (i // 10)) mod 14: 11 is prime to 14, so no two of
    the 140 possible indices share a pair (two objects drawn alike could not be told apart by any model).
    """
    styles = {name: (SHAPES[i % len(SHAPES)], PALETTE[(i % len(SHAPES) + 11 * (i // len(SHAPES))) % len(PALETTE)])
              for i, name in enumerate(OBJECTS)}
    assert len(set(styles.values())) == len(styles), "two catalogue objects would be drawn alike"
    return styles


STYLES = _object_styles()


@RENDERERS.register("procedural")
def render(person, event, variant, size, seed, layout=False):
    """Draw one scene; returns the image and the record of what it shows.

    With `layout`, also where each object is: a size x size map of object numbers (k = the k-th of
    scene objects + clutter, 0 = background or the person), for pretraining's dense object tagging.
    """
    rng = seeded(seed, "render", person["id"], event["id"], variant)
    light = rng.uniform(0.88, 1.08)
    image = Image.new("RGB", (size, size))
    draw = ImageDraw.Draw(image)
    tags = list(event["tags"])
    _background(draw, size, tags, light, rng)
    clutter = [c for c in rng.sample(CLUTTER, rng.randint(0, 2)) if c not in event["objects"]]
    slots = _slots(len(event["objects"]) + len(clutter), rng)
    names = [*event["objects"], *clutter]
    labels, areas = Image.new("L", (size, size)), []  # which object owns each pixel (0: none), and its area
    for k, (name, (x, y)) in enumerate(zip(names, slots), 1):
        r = size * rng.uniform(0.10, 0.14)
        _object(draw, name, x * size, y * size, r, light)
        _object(ImageDraw.Draw(labels), name, x * size, y * size, r, light, label=k)
        alone = Image.new("L", (size, size))
        _object(ImageDraw.Draw(alone), name, x * size, y * size, r, light, label=k)
        areas.append(alone.histogram()[k])
    pose = event["pose"]
    figure = _person(person["attributes"], pose, size, light)
    scale = rng.uniform(0.85, 1.15)
    side = max(4, int(size * 0.8 * scale))  # large enough that hair, skin and accessory read at 64 px
    figure = figure.resize((side, side), Image.BILINEAR).rotate(rng.uniform(-8, 8), Image.BILINEAR)
    cx, cy = rng.uniform(0.4, 0.6) * size, rng.uniform(0.5, 0.6) * size
    image.paste(figure, (int(cx - side / 2), int(cy - side / 2)), figure)
    body = figure.getchannel("A").point(lambda a: 255 if a >= 128 else 0)  # binary: no blended labels
    labels.paste(0, (int(cx - side / 2), int(cy - side / 2)), body)
    scene = {"objects": list(event["objects"]), "clutter": clutter, "tags": tags, "pose": pose,
             "hidden": _hidden(names, labels, areas),
             "position": [round(cx / size, 3), round(cy / size, 3)], "scale": round(scale, 3),
             "light": round(light, 3)}
    return (image, scene, labels) if layout else (image, scene)


def _shade(colour, light):
    return tuple(max(0, min(255, int(c * light))) for c in colour)


def _background(draw, size, tags, light, rng):
    horizon = int(size * rng.uniform(0.45, 0.55))
    night = "night" in tags
    if "indoors" in tags:
        draw.rectangle([0, 0, size, horizon], fill=_shade((200, 190, 170) if not night else (60, 50, 80), light))
    else:
        draw.rectangle([0, 0, size, horizon], fill=_shade((20, 25, 60) if night else (130, 190, 240), light))
    ground = {"grass": (70, 160, 60), "sand": (230, 210, 150), "snow": (245, 245, 250), "road": (100, 100, 105),
              "floor": (150, 105, 60), "water": (40, 110, 200)}
    colour = next((ground[t] for t in tags if t in ground), (150, 105, 60))
    draw.rectangle([0, horizon, size, size], fill=_shade(colour, light))
    if "water" in tags and colour != ground["water"]:
        draw.rectangle([0, horizon, size, horizon + size // 8], fill=_shade(ground["water"], light))
    if "road" in tags:
        y = (horizon + size) // 2
        for x in range(0, size, max(2, size // 6)):
            draw.rectangle([x, y, x + size // 12, y + max(1, size // 64)], fill=(250, 250, 250))
    if "mountains" in tags:
        for x0 in (0, size // 3, 2 * size // 3):
            draw.polygon([(x0 - size // 6, horizon), (x0 + size // 6, horizon - size // 4),
                          (x0 + size // 2, horizon)], fill=_shade((120, 120, 135), light))
    if "daytime" in tags:
        r = size // 14
        draw.ellipse([size - 3 * r, r, size - r, 3 * r], fill=(255, 230, 60))
    if night:
        for _ in range(6):
            x, y = rng.randrange(size), rng.randrange(max(1, horizon - 2))
            draw.point((x, y), fill=(255, 255, 200))
    if "window" in tags:
        w = size // 5
        draw.rectangle([size // 10, size // 10, size // 10 + w, size // 10 + w], fill=_shade((170, 220, 250), light),
                       outline=(90, 70, 50))
    if "lights" in tags:
        for x in (size // 4, size // 2, 3 * size // 4):
            draw.ellipse([x - 2, 1, x + 2, 5], fill=(255, 240, 150))


def _slots(count, rng):
    """Object positions around the person (left and right bands), shuffled per variant."""
    grid = [(x, y) for y in (0.3, 0.55, 0.8) for x in (0.12, 0.27, 0.73, 0.88)]
    rng.shuffle(grid)
    return [(x + rng.uniform(-0.04, 0.04), y + rng.uniform(-0.04, 0.04)) for x, y in grid[:count]]


def _hidden(names, labels, areas, least=0.5):
    """The objects of which less than `least` of their own area stays in view (the person or a later
    object covers them): no question asks about them, since the picture does not show them."""
    counts = labels.histogram()
    return [name for k, name in enumerate(names, 1) if counts[k] < least * areas[k - 1]]


OUTLINE = (25, 25, 25)  # every object is outlined, so it stays visible on a ground of its own colour


def _object(draw, name, x, y, r, light, label=None):
    """Draw one object; with `label`, its silhouette in that one value (the visibility map) instead."""
    shape, colour = STYLES[name]
    paint = (lambda c: label) if label is not None else (lambda c: c)
    fill, line = paint(_shade(colour, light)), paint(OUTLINE)
    box = [x - r, y - r, x + r, y + r]
    if shape == "box":
        draw.rectangle(box, fill=fill, outline=line)
    elif shape == "disc":
        draw.ellipse(box, fill=fill, outline=line)
    elif shape == "triangle":
        draw.polygon([(x, y - r), (x - r, y + r), (x + r, y + r)], fill=fill, outline=line)
    elif shape == "tree":
        draw.rectangle([x - r / 4, y, x + r / 4, y + r], fill=paint((110, 70, 30)))
        draw.ellipse([x - r, y - r, x + r, y + r / 3], fill=fill, outline=line)
    elif shape == "pole":
        draw.rectangle([x - r / 6, y - r / 2, x + r / 6, y + r], fill=paint((80, 80, 80)))
        draw.ellipse([x - r / 2, y - r, x + r / 2, y], fill=fill, outline=line)
    elif shape == "bar":
        draw.rectangle([x - r, y - r / 3, x + r, y + r / 3], fill=fill, outline=line)
    elif shape == "ring":
        draw.ellipse(box, outline=fill, width=max(1, int(r / 2.5)))
    elif shape == "cross":
        draw.rectangle([x - r, y - r / 4, x + r, y + r / 4], fill=fill)
        draw.rectangle([x - r / 4, y - r, x + r / 4, y + r], fill=fill)
    elif shape == "diamond":
        draw.polygon([(x, y - r), (x + r, y), (x, y + r), (x - r, y)], fill=fill, outline=line)
    else:  # wheels
        draw.rectangle([x - r, y - r / 2, x + r, y], fill=fill, outline=line)
        draw.ellipse([x - r, y - r / 3, x - r / 3, y + r / 3], fill=paint((30, 30, 30)))
        draw.ellipse([x + r / 3, y - r / 3, x + r, y + r / 3], fill=paint((30, 30, 30)))


def _person(a, pose, size, light):
    """The figure on a transparent square canvas; identity comes only from the attributes."""
    n = max(32, size)
    layer = Image.new("RGBA", (n, n), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    u = n / 32
    skin, hair, shirt = _shade(SKIN[a["skin"]], light), _shade(HAIR[a["hair_colour"]], light), _shade(
        SHIRT[a["shirt_colour"]], light)
    legs = {"standing": [(13, 22, 14, 31), (18, 22, 19, 31)], "walking": [(12, 22, 13, 31), (19, 22, 21, 31)],
            "running": [(10, 22, 12, 30), (20, 22, 23, 29)], "sitting": [(11, 22, 21, 24), (11, 24, 12, 31)],
            "riding": [(12, 22, 20, 25), (19, 25, 21, 31)]}[pose]
    for x0, y0, x1, y1 in legs:
        d.rectangle([x0 * u, y0 * u, x1 * u, y1 * u], fill=(50, 50, 90))
    d.rounded_rectangle([10 * u, 13 * u, 22 * u, 23 * u], radius=2 * u, fill=shirt)
    face = {"round": (10, 2, 22, 14), "oval": (11, 1, 21, 14), "square": (10, 2, 22, 13), "long": (12, 0, 20, 14)}
    fx0, fy0, fx1, fy1 = face[a["face_shape"]]
    if a["hair_style"] == "long":
        d.rectangle([(fx0 - 1) * u, (fy0 + 2) * u, (fx1 + 1) * u, (fy1 + 2) * u], fill=hair)
    if a["face_shape"] == "square":
        d.rectangle([fx0 * u, fy0 * u, fx1 * u, fy1 * u], fill=skin)
    else:
        d.ellipse([fx0 * u, fy0 * u, fx1 * u, fy1 * u], fill=skin)
    _hair(d, a["hair_style"], hair, fx0, fy0, fx1, u)
    for ex in (fx0 + 3, fx1 - 4):
        d.rectangle([ex * u, (fy0 + 6) * u, (ex + 1) * u, (fy0 + 7) * u], fill=EYES[a["eye_colour"]])
    _accessory(d, a["accessory"], fx0, fy0, fx1, fy1, u)
    return layer


def _hair(d, style, hair, fx0, fy0, fx1, u):
    top = [fx0 * u, (fy0 - 1) * u, fx1 * u, (fy0 + 4) * u]
    if style == "curly":
        for i in range(5):
            cx = fx0 + 1 + i * (fx1 - fx0 - 2) / 4
            d.ellipse([(cx - 2) * u, (fy0 - 2) * u, (cx + 2) * u, (fy0 + 2) * u], fill=hair)
    elif style == "spiky":
        for i in range(4):
            cx = fx0 + 1.5 + i * (fx1 - fx0 - 3) / 3
            d.polygon([((cx - 1.5) * u, (fy0 + 2) * u), (cx * u, (fy0 - 3) * u), ((cx + 1.5) * u, (fy0 + 2) * u)],
                      fill=hair)
    elif style == "buzz-cut":
        d.chord([fx0 * u, fy0 * u, fx1 * u, (fy0 + 5) * u], 180, 360, fill=hair)
    else:
        d.chord(top, 180, 360, fill=hair)
        d.rectangle([fx0 * u, (fy0 + 1) * u, fx1 * u, (fy0 + 2.5) * u], fill=hair)
    if style == "ponytail":
        d.ellipse([(fx1 - 1) * u, (fy0 + 1) * u, (fx1 + 3) * u, (fy0 + 8) * u], fill=hair)


def _accessory(d, kind, fx0, fy0, fx1, fy1, u):
    if kind == "round glasses":
        for ex in (fx0 + 3, fx1 - 4):
            d.ellipse([(ex - 1.5) * u, (fy0 + 4.5) * u, (ex + 2.5) * u, (fy0 + 8.5) * u], outline=(0, 0, 0))
    elif kind == "square glasses":
        for ex in (fx0 + 3, fx1 - 4):
            d.rectangle([(ex - 1.5) * u, (fy0 + 4.5) * u, (ex + 2.5) * u, (fy0 + 8.5) * u], outline=(0, 0, 0))
    elif kind == "a hat":
        d.rectangle([(fx0 - 2) * u, (fy0 + 0.5) * u, (fx1 + 2) * u, (fy0 + 2) * u], fill=(60, 40, 20))
        d.rectangle([(fx0 + 1) * u, (fy0 - 4) * u, (fx1 - 1) * u, (fy0 + 1) * u], fill=(60, 40, 20))
    elif kind == "a headband":
        d.rectangle([fx0 * u, (fy0 + 2) * u, fx1 * u, (fy0 + 3.5) * u], fill=(250, 250, 250))
    elif kind == "earrings":
        for ex in (fx0 - 0.5, fx1 - 0.5):
            d.ellipse([ex * u, (fy0 + 9) * u, (ex + 1.5) * u, (fy0 + 10.5) * u], fill=(255, 215, 0))
