"""Pixel-measured style attributes of an emoji image (uint8 HxWx3 on white) -> attribute words."""
import colorsys
import numpy as np

HUES = [(15, "red"), (40, "orange"), (70, "yellow"), (160, "green"), (200, "teal"), (260, "blue"), (300, "purple"),
        (340, "pink"), (361, "red")]


def measure(img):
    x = img.astype(np.float32) / 255.0
    fg = (1.0 - x.min(axis=2)) > 0.08  # anything clearly not white
    if fg.sum() < 20:
        return {"colour": "monochrome", "tone": "light", "line": "filled", "shading": "flat", "hue": "white"}
    p = x[fg]
    mx, mn = p.max(1), p.min(1)
    sat = np.where(mx > 1e-3, (mx - mn) / np.maximum(mx, 1e-3), 0)
    lum = p @ np.array([0.299, 0.587, 0.114], np.float32)
    msat = float(sat.mean())
    colour = "monochrome" if msat < 0.08 else ("muted" if msat < 0.3 else "colourful")
    tone = "dark" if lum.mean() < 0.4 else "light"
    dark = float((lum < 0.18).mean())
    line = "black outlines" if 0.06 < dark < 0.45 and colour != "monochrome" else ("outlined" if dark >= 0.06 else "filled")
    # shading: how many distinct (quantised) colours, relative to area, and smoothness of colour changes
    q = (p * 15.99).astype(np.int32)
    ncol = len(np.unique(q[:, 0] * 256 + q[:, 1] * 16 + q[:, 2]))
    shading = "gradient shaded" if ncol > 120 else "flat"
    # dominant hue among saturated pixels
    s = sat > 0.25
    if colour == "monochrome" or s.sum() < 10:
        hue = "black" if lum.mean() < 0.5 else "grey"
    else:
        ps = p[s]
        r, g, b = ps[:, 0], ps[:, 1], ps[:, 2]
        mxs, mns = ps.max(1), ps.min(1)
        d = np.maximum(mxs - mns, 1e-6)
        h = np.where(mxs == r, ((g - b) / d) % 6, np.where(mxs == g, (b - r) / d + 2, (r - g) / d + 4)) * 60
        hist = np.zeros(len(HUES))
        for i, (edge, _) in enumerate(HUES):
            lo = HUES[i - 1][0] if i else 0
            hist[i] = ((h >= lo) & (h < edge)).sum()
        hist[0] += hist[-1]
        hist[-1] = 0
        k = int(hist.argmax())
        hue = HUES[k][1]
        # low-value orange = brown
        if hue == "orange" and float(mxs[(h >= 15) & (h < 40)].mean()) < 0.6:
            hue = "brown"
    return {"colour": colour, "tone": tone, "line": line, "shading": shading, "hue": hue}


def phrase(a, rng, nouns=("emoji", "icons", "pictures", "drawings")):
    """A random phrase combining a subset of the measured attributes."""
    parts = []
    if rng.random() < 0.8:
        parts.append(a["colour"])
    if rng.random() < 0.6:
        parts.append(a["shading"])
    if rng.random() < 0.3:
        parts.append(a["tone"])
    rng.shuffle(parts)
    s = " ".join(parts + [nouns[rng.randrange(len(nouns))]])
    tail = []
    if rng.random() < 0.6:
        tail.append("with " + (a["line"] if a["line"] != "filled" else "no outlines"))
    if rng.random() < 0.5:
        tail.append(("mostly " if rng.random() < 0.5 else "in ") + a["hue"])
    rng.shuffle(tail)
    return " ".join([s] + tail)
