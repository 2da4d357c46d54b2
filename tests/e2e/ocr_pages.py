"""Pages of known text for the OCR tests: lines drawn in DejaVu Sans (Debian's
fonts-dejavu-core) on a white page, optionally rotated about the page's centre,
with each line's drawn extent carried into the rotated page."""
from pathlib import Path

import numpy as np

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def draw_page(lines, size, seed, angle=0.0, font_size=26, top=40, indent=(20, 80), gap=(90, 110)):
    """(PIL RGB image of `size`, each line's extent (x0, y0, x1, y1) in its pixels). Each line
    starts a random `indent` from the left and a random `gap` below the last one (from `top`);
    the page is then rotated by `angle` degrees, counter-clockwise on screen."""
    from PIL import Image, ImageDraw, ImageFont
    rng = np.random.default_rng(seed)
    w, h = size
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(str(FONT), font_size)
    boxes, y = [], top
    for text in lines:
        x = int(rng.integers(*indent))
        draw.text((x, y), text, fill="black", font=font)
        boxes.append(draw.textbbox((x, y), text, font=font))
        y += int(rng.integers(*gap))
    if not angle:
        return img, boxes
    img = img.rotate(angle, resample=Image.BICUBIC, fillcolor="white")
    a = np.deg2rad(angle)

    def turn(x, y):  # image y points down: counter-clockwise on screen
        return (w / 2 + (x - w / 2) * np.cos(a) + (y - h / 2) * np.sin(a),
                h / 2 - (x - w / 2) * np.sin(a) + (y - h / 2) * np.cos(a))
    turned = []
    for x0, y0, x1, y1 in boxes:
        pts = [turn(x, y) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]
        turned.append((min(p[0] for p in pts), min(p[1] for p in pts),
                       max(p[0] for p in pts), max(p[1] for p in pts)))
    return img, turned
