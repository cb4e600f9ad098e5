"""One picture of several variant runs: each run's last sample grid under its title.

    python -m benchmarks.variant_figure OUT.png "default (FID 25.3)=/tmp/vq/default" ...

Each argument after OUT.png is TITLE=WORKDIR, where WORKDIR is an OUTPUT_DIR of
benchmarks/variant_quality.py (its samples/epoch_NNNN.png, the last one is used).
The panels, 300 pixels wide, are laid out five to a row, each with its title above it.
"""
import os
import sys

from PIL import Image, ImageDraw

COLUMNS = 5
TITLE_HEIGHT = 22
GAP = 12
PANEL = 300  # width of each grid, pixels


def last_grid(workdir):
    folder = os.path.join(workdir, "samples")
    names = sorted(n for n in os.listdir(folder) if n.startswith("epoch_") and n.endswith(".png"))
    if not names:
        raise SystemExit(f"no samples/epoch_*.png in {workdir}")
    return Image.open(os.path.join(folder, names[-1])).convert("RGB")


def main(argv):
    if len(argv) < 2 or any("=" not in a for a in argv[1:]):
        raise SystemExit(__doc__)
    out, panels = argv[0], [a.split("=", 1) for a in argv[1:]]
    grids = [(title, last_grid(workdir)) for title, workdir in panels]
    grids = [(title, grid.resize((PANEL, PANEL * grid.height // grid.width),
                                 Image.NEAREST)) for title, grid in grids]
    width = max(g.width for _, g in grids)
    height = max(g.height for _, g in grids) + TITLE_HEIGHT
    rows = (len(grids) + COLUMNS - 1) // COLUMNS
    columns = min(COLUMNS, len(grids))
    figure = Image.new("RGB", (columns * (width + GAP) - GAP, rows * (height + GAP) - GAP),
                       "white")
    draw = ImageDraw.Draw(figure)
    for i, (title, grid) in enumerate(grids):
        x, y = (i % COLUMNS) * (width + GAP), (i // COLUMNS) * (height + GAP)
        draw.text((x + 2, y + 4), title, fill="black")
        figure.paste(grid, (x, y + TITLE_HEIGHT))
    figure.save(out)
    print("wrote", out)


if __name__ == "__main__":
    main(sys.argv[1:])
