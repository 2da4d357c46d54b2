"""Renders sample pages for run.sh: pages/page-N.png (or .jpg) with a few
lines of English text and numbers each (DejaVu Sans), one page slightly
rotated, and pages.csv (id, path)."""
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

LINES = [
    ["Invoice 2026-12-02", "Total due: 4,218.50 EUR", "Ship to Berlin 10115"],
    ["The quick brown fox jumps", "over the lazy dog 1234567890", "Batch 42 finished at 03:15"],
    ["Nightshift reads documents", "Page three of three", "Call 030 555 0199 today"],
]


def main():
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 28)
    Path("pages").mkdir(exist_ok=True)
    rows = ["id,path"]
    for i, lines in enumerate(LINES):
        img = Image.new("RGB", (900, 600), "white")
        draw = ImageDraw.Draw(img)
        for n, text in enumerate(lines):
            draw.text((60, 80 + 150 * n), text, fill="black", font=font)
        if i == 1:
            img = img.rotate(3, resample=Image.BICUBIC, fillcolor="white")
        path = f"pages/page-{i}.{'jpg' if i == 2 else 'png'}"
        img.save(path, quality=70) if i == 2 else img.save(path)
        rows.append(f"{i},{path}")
    Path("pages.csv").write_text("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
