"""The floor plan in figures: modules and lines per folder, import cycles, imports across wings, the longest
functions and repeated blocks, computed from the code alone (stdlib `ast`), so that a restructure is measured
before and after by the same command.

    python tools/architecture.py                  # this checkout
    python tools/architecture.py --root DIR       # another checkout
    python tools/architecture.py --map MAP.json   # classify modules as if moved (old dotted name -> new)

A wing is a sub-package of lightonocr_validation (its second name); checks/ belongs to the check wing; tasks.py
and noxfile.py are the entrance. Shared wings sit under the task wings, in the order of SHARED: an import
"crosses wings" when it goes to another task wing, or sideways or upwards between shared ones.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

PACKAGES = ("lightonocr_validation", "checks")
ENTRANCES = ("tasks.py", "noxfile.py")
# Shared wings, lowest first: a wing may import those before it, never those after it or a task wing.
SHARED = ("core", "vllm", "truth", "pages", "accuracy", "grounding", "load")
# Task wings that are built from others on purpose: tune serves and benches; docs reads every wing to write
# the generated pages.
COMPOSES = {"tune": {"serve", "bench"}, "docs": {"*"}}
MIN_LINES = 6


def source_files(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for the packages and the entrances."""
    found = {path.removesuffix(".py"): root / path for path in ENTRANCES if (root / path).is_file()}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(tree: ast.Module, name: str, modules: dict[str, Path], module_level: bool) -> set[str]:
    """Project modules this one imports: every import statement, or (module_level) only those that run when it
    is imported (not inside functions, not under `if TYPE_CHECKING:`)."""
    found: set[str] = set()
    pending: list[ast.AST] = list(tree.body)
    package = name if modules[name].name == "__init__.py" else name.rpartition(".")[0]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
        elif not (module_level and runs_later(node)):
            pending.extend(ast.iter_child_nodes(node))
    return {target for target in found if target in modules and target != name}


def runs_later(node: ast.AST) -> bool:
    """A function's body, or an `if TYPE_CHECKING:` block: imports there do not run when the module is imported."""
    if isinstance(node, ast.If):
        return "TYPE_CHECKING" in ast.unparse(node.test)
    return isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def wing(module: str) -> str:
    parts = module.split(".")
    if parts[0] in ("tasks", "noxfile"):
        return "entrance"
    if parts[0] == "checks":
        return "check"
    if parts[0] == "docs_gen" or parts[1:2] == ["docs_gen"]:
        return "docs"
    if parts[1:2] == ["samples_build"]:
        return "samples"
    return parts[1] if len(parts) > 1 else parts[0]


def crosses(source: str, target: str) -> bool:
    """An import from wing `source` to wing `target` that the layout does not allow."""
    if source == target or source == "entrance":
        return False
    allowed = COMPOSES.get(source, set())
    if "*" in allowed or target in allowed:
        return False
    if target in SHARED:
        return source in SHARED and SHARED.index(target) >= SHARED.index(source)
    return True


def functions(tree: ast.Module) -> list[tuple[int, str, int]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append((node.end_lineno - node.lineno + 1, node.name, node.lineno))
    return found


def repeated_blocks(files: dict[str, list[str]]) -> list[tuple[int, str, str]]:
    """Runs of MIN_LINES or more identical code lines (blank, comment and import lines passed over, white space
    folded) that stand in two places: (lines, first place, second place), one row per pair of places."""
    kept: dict[str, list[tuple[int, str]]] = {}
    for name, lines in files.items():
        kept[name] = [
            (number, " ".join(line.split()))
            for number, line in enumerate(lines, 1)
            if line.strip()
            and not line.strip().startswith(("#", "import ", "from "))
            and line.strip() not in {")", "]", "}", "),", "],", "},", '"""'}
        ]
    windows: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for name, lines in kept.items():
        for start in range(len(lines) - MIN_LINES + 1):
            text = "\n".join(line for _, line in lines[start : start + MIN_LINES])
            windows[hashlib.sha1(text.encode()).hexdigest()].append((name, start))
    pairs: dict[tuple[str, str], set[tuple[int, int]]] = defaultdict(set)
    for places in windows.values():
        if 1 < len(places) <= 8:
            for i, (a, sa) in enumerate(places):
                for b, sb in places[i + 1 :]:
                    if a != b or abs(sa - sb) >= MIN_LINES:
                        pairs[(a, b)].add((sa, sb))
    rows = []
    for (a, b), starts in pairs.items():
        for sa, sb in sorted(starts):
            if (sa - 1, sb - 1) in starts:
                continue  # inside a run already counted
            length = MIN_LINES
            while (sa + length - MIN_LINES + 1, sb + length - MIN_LINES + 1) in starts:
                length += 1
            ka, kb = kept[a], kept[b]
            rows.append(
                (
                    length,
                    f"{a}:{ka[sa][0]}-{ka[sa + length - 1][0]}",
                    f"{b}:{kb[sb][0]}-{kb[sb + length - 1][0]}",
                )
            )
    return sorted(rows, key=lambda row: (-row[0], row[1]))


def import_graph(modules: dict[str, Path], trees: dict[str, ast.Module], level: str = "any") -> dict[str, set[str]]:
    """Which project modules each imports: `any` import statement, or only the `module-level` ones."""
    return {name: imports(tree, name, modules, level == "module-level") for name, tree in trees.items()}


def parse(modules: dict[str, Path]) -> dict[str, ast.Module]:
    return {name: ast.parse(path.read_text(encoding="utf-8"), str(path)) for name, path in modules.items()}


def crossings(graph: dict[str, set[str]], moved: Callable[[str], str] = str) -> list[tuple[str, str]]:
    """The imports that go into a wing the importer may not use (see `crosses`)."""
    return sorted(
        (name, target)
        for name, targets in graph.items()
        for target in targets
        if crosses(wing(moved(name)), wing(moved(target)))
    )


def measure(root: Path, renames: dict[str, str]) -> dict:
    modules = source_files(root)
    trees = parse(modules)

    def moved(name: str) -> str:
        return renames.get(name, name)

    folders: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for path in modules.values():
        folder = str(path.parent.relative_to(root)) or "."
        folders[folder][0] += 1
        folders[folder][1] += len(path.read_text(encoding="utf-8").splitlines())
    graphs = {level: import_graph(modules, trees, level) for level in ("any", "module-level")}
    cross = crossings(graphs["any"], moved)
    longest = sorted(
        (
            (length, f"{modules[name].relative_to(root)}:{line} {function}")
            for name, tree in trees.items()
            for length, function, line in functions(tree)
        ),
        reverse=True,
    )
    code = {
        str(path.relative_to(root)): path.read_text(encoding="utf-8").splitlines()
        for path in sorted({*modules.values(), *(root / "tests").rglob("*.py"), *(root / "benchmarks").rglob("*.py")})
    }
    product = {name: lines for name, lines in code.items() if not name.startswith(("tests/", "benchmarks/"))}
    return {
        "folders": {folder: {"modules": n, "lines": lines} for folder, (n, lines) in sorted(folders.items())},
        "modules": len(modules),
        "lines": sum(lines for _, lines in folders.values()),
        "cycles": {level: cycles(graph) for level, graph in graphs.items()},
        "cross_wing_imports": [f"{a} -> {b}" for a, b in cross],
        "cross_wing_by_wing": dict(Counter(f"{wing(moved(a))} -> {wing(moved(b))}" for a, b in cross).most_common()),
        "longest_functions": [f"{length:4d}  {where}" for length, where in longest[:12]],
        "functions_over_60_lines": sum(1 for length, _ in longest if length > 60),
        "repeated_blocks": {
            "product code": [f"{n:3d}  {a} ~ {b}" for n, a, b in repeated_blocks(product)],
            "with tests and benchmarks": len(repeated_blocks(code)),
        },
    }


def render(result: dict) -> str:
    out = ["| folder | modules | lines |", "| --- | ---: | ---: |"]
    out += [f"| {folder} | {row['modules']} | {row['lines']} |" for folder, row in result["folders"].items()]
    out.append(f"| all | {result['modules']} | {result['lines']} |")
    for level, found in result["cycles"].items():
        out.append(f"\nimport cycles between files ({level} imports): {len(found)}")
        out += [f"  {' <-> '.join(component)}" for component in found]
    out.append(f"\nimports that cross wings: {len(result['cross_wing_imports'])}")
    out += [f"  {pair}: {count}" for pair, count in result["cross_wing_by_wing"].items()]
    out += [f"    {line}" for line in result["cross_wing_imports"]]
    out.append(f"\nlongest functions (lines; {result['functions_over_60_lines']} over 60):")
    out += [f"  {line}" for line in result["longest_functions"]]
    blocks = result["repeated_blocks"]
    out.append(
        f"\nidentical blocks of {MIN_LINES}+ code lines in two places: {len(blocks['product code'])} in the package, "
        f"checks/ and the entrances; {blocks['with tests and benchmarks']} with tests/ and benchmarks/"
    )
    out += [f"  {line}" for line in blocks["product code"]]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--map", type=Path, help="JSON object: old dotted module name -> new one")
    parser.add_argument("--json", action="store_true", help="the figures as JSON")
    args = parser.parse_args(argv)
    renames = json.loads(args.map.read_text(encoding="utf-8")) if args.map else {}
    result = measure(args.root.resolve(), renames)
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
