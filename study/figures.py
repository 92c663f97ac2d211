"""Pictures a reader wants: a montage of slices and the lung HU histogram.

The montage outlines the lung mask and tints LAA-950 voxels red; the histogram marks -950 HU
and Perc15.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from imaging.hounsfield import LungWindow

OUTLINE_RGB = (255, 210, 0)
EMPHYSEMA_RGB = np.array([230, 30, 30], dtype=np.float32)
TINT = 0.65
TILE_PIXELS = 256


def _tile(hounsfield: np.ndarray, lungs: np.ndarray) -> Image.Image:
    window = LungWindow()
    grey = np.clip((hounsfield - window.lower) / (window.upper - window.lower), 0.0, 1.0) * 255.0
    rgb = np.repeat(grey[..., np.newaxis], 3, axis=2).astype(np.float32)
    emphysema = lungs & (hounsfield < -950)
    rgb[emphysema] = (1.0 - TINT) * rgb[emphysema] + TINT * EMPHYSEMA_RGB
    outline = lungs & ~ndimage.binary_erosion(lungs)
    rgb[outline] = OUTLINE_RGB
    image = Image.fromarray(rgb.astype(np.uint8))
    return image.resize((TILE_PIXELS, TILE_PIXELS), Image.NEAREST) if image.width > TILE_PIXELS else image


def write_montage(
    path: Path, hounsfield: np.ndarray, labels: np.ndarray, spacing_z: float, count: int = 12
) -> None:
    """Save ``count`` axial slices evenly spread over the lungs, top of the chest first."""
    slices = np.flatnonzero(labels.any(axis=(1, 2)))
    chosen = np.linspace(slices[0], slices[-1], count + 2).round().astype(int)[1:-1][::-1]
    tiles = [_tile(hounsfield[index], labels[index] > 0) for index in chosen]
    columns = 4
    rows = int(np.ceil(len(tiles) / columns))
    side = tiles[0].width
    sheet = Image.new("RGB", (columns * side, rows * side), "black")
    draw = ImageDraw.Draw(sheet)
    for number, (tile, index) in enumerate(zip(tiles, chosen, strict=True)):
        left, top = (number % columns) * side, (number // columns) * side
        sheet.paste(tile, (left, top))
        draw.text(
            (left + 4, top + 4), f"slice {index + 1}  z {index * spacing_z:.0f} mm", fill=(255, 255, 255)
        )
    # A palette keeps the sheet small: grey levels, the red tint and the outline fit in 128 colours.
    sheet.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def write_histogram(path: Path, values: np.ndarray, laa950: float, perc15: float) -> None:
    """Save the lung HU histogram with the -950 HU threshold and Perc15 marked."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axis = pyplot.subplots(figsize=(6.4, 3.6))
    axis.hist(values, bins=np.arange(-1025, 1, 5), color="0.4")
    axis.axvline(-950, color="tab:red", linestyle="--", label=f"-950 HU (LAA-950 {laa950:.1f} %)")
    axis.axvline(perc15, color="tab:blue", label=f"Perc15 {perc15:.0f} HU")
    axis.set_xlim(-1025, 0)
    axis.set_xlabel("HU inside the lung mask")
    axis.set_ylabel("voxels")
    axis.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100, metadata={"Software": None})
    pyplot.close(figure)
