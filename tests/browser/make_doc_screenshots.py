"""Shrink chosen browser-test screenshots into docs/screenshots/ (committed, each < 200 KB).

Run the browser suite first (bash scripts/test_browser.sh); it writes artifacts/screenshots/.
Then:  .venv/bin/python tests/browser/make_doc_screenshots.py [SOURCE.png[=DEST.png] ...]
With no arguments it uses DEFAULT below (artifact name -> docs name; widget cells are numbered
among code cells, so update a number when a lesson gains or loses cells). Each image is cropped
to MAX_HEIGHT, scaled to WIDTH and saved as an optimised PNG of at most 256 colours.
"""

import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
SRC, DEST = ROOT / "artifacts" / "screenshots", ROOT / "docs" / "screenshots"
DEFAULT = {"01_attention_intuition_widget_cell7.png": "01_attention_intuition_widget.png",
           "06_masks_widget_cell20.png": "06_masks_widget.png",
           "10_inference_widget_cell26.png": "10_inference_translate.png"}
WIDTH, MAX_HEIGHT, MAX_BYTES = 900, 1400, 200_000


def shrink(src: Path, dest: Path) -> int:
    img = Image.open(src).convert("RGB")
    img = img.crop((0, 0, img.width, min(img.height, int(MAX_HEIGHT * img.width / WIDTH))))
    if img.width > WIDTH:
        img = img.resize((WIDTH, round(img.height * WIDTH / img.width)), Image.LANCZOS)
    for colours in (256, 128, 64):
        img.quantize(colours, method=Image.Quantize.MEDIANCUT).save(dest, optimize=True)
        if dest.stat().st_size < MAX_BYTES:
            break
    return dest.stat().st_size


def main(args) -> int:
    DEST.mkdir(parents=True, exist_ok=True)
    pairs = dict(a.split("=", 1) if "=" in a else (a, a) for a in args) or DEFAULT
    status = 0
    for name, dest_name in pairs.items():
        src = SRC / name
        if not src.exists():
            print(f"missing {src} (run the browser tests first)", file=sys.stderr)
            status = 1
            continue
        size = shrink(src, DEST / dest_name)
        print(f"{DEST / dest_name}: {size / 1000:.0f} KB")
        status |= size >= MAX_BYTES
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
