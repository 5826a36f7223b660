"""The floor plan holds (docs/design.md): no import cycle between files, no import into a wing the importer may
not use, checks/ holds check modules only, and the tests follow the wings. tools/architecture.py measures it and
prints the figures."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location("architecture", ROOT / "tools" / "architecture.py")
assert _SPEC is not None and _SPEC.loader is not None
architecture = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(architecture)

MODULES = architecture.source_files(ROOT)
GRAPH = architecture.import_graph(MODULES, architecture.parse(MODULES))
# None: a page's facts are parsed as the page is loaded, by truth/ (the wing below pages/ that grading shares).
# A new crossing fails here; move the shared piece down a wing instead.
KNOWN_CROSSINGS: set[tuple[str, str]] = set()
# Test folders beside the wings': the check modules, the doors (tasks.py, noxfile.py), the end-to-end runs on the
# real vLLM, the fault suite, and tools/.
TEST_FOLDERS_BESIDE_THE_WINGS = {"checks", "doors", "e2e", "faults", "tools"}


def test_no_file_imports_one_that_imports_it_back() -> None:
    assert GRAPH["lightonocr_validation.check.runner"] >= {"lightonocr_validation.check.base"}  # it sees imports
    assert architecture.cycles(GRAPH) == []


def test_no_import_goes_into_a_wing_its_module_may_not_use() -> None:
    assert set(architecture.crossings(GRAPH)) == KNOWN_CROSSINGS


def test_the_measure_finds_a_cycle_and_a_crossing(tmp_path: Path) -> None:
    package = tmp_path / "lightonocr_validation"
    for wing, text in {
        "check": "from lightonocr_validation.bench import a\n",
        "bench": "import lightonocr_validation.check.a\n",
    }.items():
        (package / wing).mkdir(parents=True)
        (package / wing / "a.py").write_text(text, encoding="utf-8")
    modules = architecture.source_files(tmp_path)
    graph = architecture.import_graph(modules, architecture.parse(modules))
    assert architecture.cycles(graph) == [["lightonocr_validation.bench.a", "lightonocr_validation.check.a"]]
    assert len(architecture.crossings(graph)) == 2


def test_checks_holds_check_modules_only() -> None:
    families = [path for path in sorted((ROOT / "checks").glob("*.py")) if path.name != "__init__.py"]
    assert families
    for path in families:
        assert "(Check):" in path.read_text(encoding="utf-8"), f"{path.name} declares no check: move it to a wing"


@pytest.mark.parametrize("module", sorted(name for name in MODULES if name.startswith("checks.")))
def test_each_check_module_imports_first_in_a_fresh_interpreter(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_docs_design_names_every_wing() -> None:
    design = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    wings = [path.parent.name for path in sorted((ROOT / "lightonocr_validation").glob("*/__init__.py"))]
    assert wings and [wing for wing in wings if f"`{wing}/`" not in design] == []


def test_every_test_module_lives_in_the_folder_of_a_wing() -> None:
    wings = {path.parent.name for path in (ROOT / "lightonocr_validation").glob("*/__init__.py")}
    folders = wings | TEST_FOLDERS_BESIDE_THE_WINGS
    modules = [path.relative_to(ROOT / "tests") for path in sorted((ROOT / "tests").rglob("test_*.py"))]
    assert len(modules) > 50  # it sees them
    assert [str(path) for path in modules if len(path.parts) != 2 or path.parts[0] not in folders] == []
    # A folder without __init__.py would import its tests by their bare names, which clash across wings.
    assert [str(path.parent) for path in modules if not (ROOT / "tests" / path.parent / "__init__.py").is_file()] == []
