"""Build the random-weight model of a profile's architecture: the command `invoke tiny-model` runs with the
vLLM environment's python (`python -m lightonocr_validation.serve.build_model OUT_DIR [--full-size]
[--model-profile NAME]`). It picks the builder, tiny_model (Pixtral-based) or tiny_qwen35 (Qwen3.5-based),
so neither builder imports the other's dispatch."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lightonocr_validation.serve import tiny_model, tiny_qwen35


def build_for(out_dir: Path, profile: str, *, full_size: bool) -> dict:
    """The checkpoint of `profile`'s architecture: Pixtral-based here (LightOnOCR-2-1B's shapes at full size,
    for the 1B of every generation), Qwen3.5-based in tiny_qwen35 (each size's own shapes)."""
    if profile in tiny_qwen35.FULL_SIZE:
        return tiny_qwen35.build_full_size(out_dir, profile) if full_size else tiny_qwen35.build(out_dir)
    return tiny_model.build_full_size(out_dir) if full_size else tiny_model.build(out_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=tiny_model.__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument(
        "--full-size",
        action="store_true",
        help="the profile's real dimensions and tokenizer ids, no weights (vllm serve --load-format dummy)",
    )
    parser.add_argument(
        "--model-profile",
        default="LightOnOCR-2-1B",
        help="whose architecture: Pixtral-based (the default) or Qwen3.5-based (LightOnOCR-3-0.8B, -4B)",
    )
    args = parser.parse_args(argv)
    try:
        summary = build_for(args.out_dir, args.model_profile, full_size=args.full_size)
    except ImportError as error:
        print(f"error: {error.name} is missing: run this with the vLLM environment's python", file=sys.stderr)
        return 2
    except tiny_model.TinyModelError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
