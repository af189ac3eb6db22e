"""Synthetic stand-in corpus (same format as `parasol corpus export`) for smoke tests only."""
import json, os, random, sys
from PIL import Image, ImageDraw, ImageFilter

SETS = ["noto", "noto-v1", "twemoji", "openmoji", "fluent-emoji", "fluent-emoji-flat",
        "fluent-emoji-high-contrast", "emojione", "emojione-monotone", "emojione-v1", "fxemoji",
        "streamline-emojis"]
HELD = {"emojione-monotone", "twemoji", "fxemoji"}
SHAPES = ["circle", "square", "triangle", "diamond", "star", "cross"]
COLS = {"red": (220, 40, 40), "yellow": (250, 200, 30), "blue": (40, 90, 220), "green": (40, 170, 60),
        "purple": (140, 60, 190), "orange": (250, 130, 20), "brown": (130, 80, 40), "pink": (240, 120, 180)}
EXTRA = ["face", "heart", "hand", "cat", "dog", "flag", "car", "tree"]


def shape_poly(shape, c=32, r=22):
    import math
    if shape == "circle":
        return None
    if shape == "square":
        return [(c - r, c - r), (c + r, c - r), (c + r, c + r), (c - r, c + r)]
    if shape == "triangle":
        return [(c, c - r), (c + r, c + r), (c - r, c + r)]
    if shape == "diamond":
        return [(c, c - r), (c + r, c), (c, c + r), (c - r, c)]
    if shape == "star":
        return [(c + (r if i % 2 == 0 else r / 2.5) * math.cos(math.pi * i / 5 - math.pi / 2),
                 c + (r if i % 2 == 0 else r / 2.5) * math.sin(math.pi * i / 5 - math.pi / 2)) for i in range(10)]
    w = r / 3
    return [(c - w, c - r), (c + w, c - r), (c + w, c - w), (c + r, c - w), (c + r, c + w), (c + w, c + w),
            (c + w, c + r), (c - w, c + r), (c - w, c + w), (c - r, c + w), (c - r, c - w), (c - w, c - w)]


def render(si, shape, col, extra):
    rng = random.Random(si * 1000 + hash(shape + col + extra) % 1000)
    outline = [0, 3, 0, 4, 0, 0, 5, 1, 0, 2, 1, 2][si]
    mono = SETS[si] in ("emojione-monotone", "fluent-emoji-high-contrast")
    fill = (30, 30, 30) if mono else COLS[col]
    if si % 3 == 1:
        fill = tuple(min(255, int(v * 0.7 + 80)) for v in fill)
    img = Image.new("RGB", (64, 64), (255, 255, 255))
    d = ImageDraw.Draw(img)
    poly = shape_poly(shape)
    oc = (0, 0, 0) if si != 11 else (60, 40, 120)
    if poly is None:
        d.ellipse([10, 10, 54, 54], fill=fill, outline=oc if outline else None, width=outline or 1)
    else:
        d.polygon(poly, fill=fill, outline=oc if outline else None)
        if outline:
            d.line(poly + [poly[0]], fill=oc, width=outline)
    ei = EXTRA.index(extra)
    d.rectangle([28 + ei % 3, 28, 36, 30 + ei], fill=(255, 255, 255) if mono else (0, 0, 0))
    if si in (4, 9, 10):  # gradient-ish
        img = img.filter(ImageFilter.GaussianBlur(1.2 + si / 10))
    return img


def main(out, n_codes=120):
    random.seed(0)
    os.makedirs(out, exist_ok=True)
    codes = []
    for s in SHAPES:
        for c in COLS:
            for e in EXTRA:
                codes.append((s, c, e))
    random.shuffle(codes)
    codes = codes[:n_codes]
    unseen_c = set(range(0, n_codes, 7))
    lines = []
    for si, sname in enumerate(SETS):
        os.makedirs(f"{out}/images/{sname}", exist_ok=True)
        for ci, (s, c, e) in enumerate(codes):
            if random.random() < 0.1:
                continue
            cp = f"{0x1f300 + ci:x}" if ci % 23 != 5 else None
            held = sname in HELD
            uc = ci in unseen_c
            split = "unseen-both" if held and uc else "unseen-style" if held else "unseen-content" if uc else "train"
            p = f"images/{sname}/{cp or 'x' + str(ci)}.png"
            render(si, s, c, e).save(f"{out}/{p}")
            lines.append({"id": f"{sname}:{cp or ci}", "path": p, "set": sname, "codepoint": cp,
                          "name": f"{c} {s} {e}", "shortNames": [f"{c}_{s}"], "keywords": [s, c, e, "thing"],
                          "category": "Symbols", "subcategory": "geometric", "license": "CC0",
                          "attribution": "synthetic", "split": split})
    with open(f"{out}/items.jsonl", "w") as f:
        for l in lines:
            f.write(json.dumps(l) + "\n")
    json.dump({"sets": [{"id": s, "license": "CC0"} for s in SETS]}, open(f"{out}/corpus.json", "w"))
    print(len(lines), "items")


if __name__ == "__main__":
    main(sys.argv[1])
