"""Generate docs/ from the code: the invoke tasks, the nox sessions, the check registry, the guide and the
accuracy calibration.

Each document module has a `PATH`, a `TEMPLATE` (used only when the file does not exist yet) and
`blocks(root)`, the generated blocks by marker name. Only the text between a block's markers is
replaced, so hand-written prose around them survives (see markers.py). Output is deterministic: no
timestamps, no paths of the machine that generated it, sorted wherever order carries no meaning.

    generate(root)  -> {path: text} of every document as it should be
    check(root)     -> the documents whose file differs (stale or missing)
    write(root)     -> writes the documents that changed, returns them
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from lightonocr_validation.docs import (
    accuracy_doc,
    bench_doc,
    checks_doc,
    gpu_doc,
    guide,
    markers,
    sessions_doc,
    tasks_doc,
)

DOCUMENTS: dict[str, ModuleType] = {
    "tasks": tasks_doc,
    "sessions": sessions_doc,
    "checks": checks_doc,
    "guide": guide,
    "accuracy": accuracy_doc,
    "bench": bench_doc,
    "gpu": gpu_doc,
}


def _current(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def generate(root: Path, *, out: Path | None = None, only: Iterable[str] | None = None) -> dict[Path, str]:
    """Every document's text as the code says it should be; `out` replaces root/docs for the files.

    `root` is where the code is read from (tasks.py, noxfile.py, pyproject.toml); `only` names
    documents (keys of DOCUMENTS) to generate, all by default.
    """
    root = Path(root).resolve()
    docs_dir = Path(out) if out is not None else root / "docs"
    names = list(DOCUMENTS) if only is None else list(only)
    documents: dict[Path, str] = {}
    for name in names:
        module = DOCUMENTS[name]
        path = docs_dir / Path(module.PATH).name
        text = _current(path)
        if text is None:
            text = module.TEMPLATE
        documents[path] = markers.fill(text, module.blocks(root), document=module.PATH)
    return documents


def check(root: Path, *, out: Path | None = None, only: Iterable[str] | None = None) -> list[Path]:
    """The documents whose file is missing or differs from what the code generates."""
    return [path for path, text in generate(root, out=out, only=only).items() if _current(path) != text]


def write(root: Path, *, out: Path | None = None, only: Iterable[str] | None = None) -> list[Path]:
    """Write every document that changed; return those written."""
    written = []
    for path, text in generate(root, out=out, only=only).items():
        if _current(path) != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written
