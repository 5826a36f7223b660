"""Page images as LightOnOCR expects them: RGB, at most 1540 px on the longest side, sent as lossless PNG.

The token arithmetic mirrors transformers' PixtralImageProcessor (``get_resize_output_image_size``) as
LightOnOCR's processor uses it: the image is scaled so both sides fit ``longest_edge`` (floor of each side
divided by the same ratio, never upscaled), then cut into 14 px patches (a partial patch counts), and every
2x2 block of patches is merged into one image token. The processor is called with
``patch_size = 14 * 2``, hence ``ceil(W/28) * ceil(H/28)`` tokens.
"""

from __future__ import annotations

import base64
import io

from PIL import Image

from lightonocr_validation.core import model_profiles

LONGEST_SIDE = 1540
PATCH_SIZE = 14
SPATIAL_MERGE = 2
# Chat template tokens around the image for one user turn with only an image (ChatML plus an empty system
# turn); see docs: 12 + image tokens for one page.
PROMPT_OVERHEAD_TOKENS = 12


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB copy of ``image``; transparency is composited on white, as a page is white paper."""
    if image.mode == "RGB":
        return image.copy()
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def resized_size(width: int, height: int, longest: int = LONGEST_SIDE) -> tuple[int, int]:
    """Size after Pixtral's downscale to ``longest`` px (the model profiles' arithmetic, core/model_profiles.py).

    >>> resized_size(2550, 3300)
    (1190, 1540)
    >>> resized_size(800, 600)
    (800, 600)
    """
    return model_profiles.resized_size(width, height, longest)


def fit_longest_side(image: Image.Image, longest: int = LONGEST_SIDE) -> Image.Image:
    """Downscale (bicubic, like the processor) so the longest side is at most ``longest``; never upscale,
    because upscaling adds tokens without adding information."""
    size = resized_size(image.width, image.height, longest)
    if size == image.size:
        return image.copy()
    return image.resize(size, Image.Resampling.BICUBIC)


def expected_image_tokens(
    width: int, height: int, longest: int = LONGEST_SIDE, patch: int = PATCH_SIZE, merge: int = SPATIAL_MERGE
) -> int:
    """Image tokens the vision encoder produces for a ``width`` x ``height`` page.

    >>> [expected_image_tokens(w, 1540) for w in (1190, 1089, 1540)]  # Letter, A4, square
    [2365, 2145, 3025]
    """
    return model_profiles.pixtral_image_tokens(width, height, longest, patch, merge)


def expected_prompt_tokens(width: int, height: int) -> int:
    """Prompt tokens of a one-page request: the chat template's fixed tokens plus the image tokens.

    >>> expected_prompt_tokens(1190, 1540)
    2377
    """
    return PROMPT_OVERHEAD_TOKENS + expected_image_tokens(width, height)


def png_bytes(image: Image.Image) -> bytes:
    """Lossless RGB PNG bytes of ``image`` (never JPEG: compression artefacts change what the model reads)."""
    buffer = io.BytesIO()
    to_rgb(image).save(buffer, format="PNG")
    return buffer.getvalue()


def png_data_url(image: Image.Image) -> str:
    """``data:image/png;base64,...`` URL of ``image`` as RGB PNG: works with remote servers, unlike file://."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode("ascii")
