"""Command line: ``python -m lightonocr_validation.samples_build [--out DIR] [--check]``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from lightonocr_validation.pages.samples import SAMPLES_DIR
from lightonocr_validation.samples_build import __doc__ as DOC
from lightonocr_validation.samples_build.build import build_samples, check_samples, library_versions
from lightonocr_validation.samples_build.raster import FontMissing
from lightonocr_validation.samples_build.source import SOURCE_DIR, SourceError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lightonocr_validation.samples_build", description=DOC)
    parser.add_argument("--out", type=Path, default=SAMPLES_DIR, help="output directory (default: samples/)")
    parser.add_argument("--src", type=Path, default=SOURCE_DIR, help="page sources (default: samples/src/)")
    parser.add_argument("--check", action="store_true", help="rebuild in a temp dir and compare with --out")
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = check_samples(args.out, args.src)
            for line in problems:
                print(line, file=sys.stderr)
            if problems:
                print(
                    f"{len(problems)} sample file(s) differ; rebuild with: {parser.prog} (built with "
                    f"{library_versions()}; the committed set needs the versions pinned in pyproject's samples group)",
                    file=sys.stderr,
                )
                return 1
            print(f"samples in {args.out} are identical to a fresh build")
            return 0
        paths = build_samples(args.out, args.src)
    except (FontMissing, SourceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(paths)} files to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
