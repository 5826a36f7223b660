"""Build the bundled sample pages, their ground truth and the manifest, byte for byte, from samples/src.

Each page is a data file (``samples/src/<id>.md``: TOML front matter, then Markdown); this package reads
them (``source``), draws raster pages with Pillow and matplotlib's mathtext (``raster``, ``math_render``),
typesets the PDF with ReportLab (``pdf``) and writes samples/ (``build``).

    python -m lightonocr_validation.samples_build [--out DIR] [--check]
"""

from lightonocr_validation.samples_build.build import build_samples, check_samples, ground_truth

__all__ = ["build_samples", "check_samples", "ground_truth"]
