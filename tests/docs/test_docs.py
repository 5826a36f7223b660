"""The committed docs are what the code generates, and the generator keeps the hand-written prose."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from invoke import Context, Exit

from lightonocr_validation import docs as docs_gen
from lightonocr_validation.docs import markers, sources
from lightonocr_validation.vllm import diagnose

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
FIX = "run `nox -s docs` (or `invoke docs`) and commit docs/"


def _needs_nox(name: str) -> None:
    # sessions.md is read from nox's registry; the other documents need no nox.
    if name == "sessions":
        pytest.importorskip("nox", reason="sessions.md is generated from nox's registry")


@pytest.mark.parametrize("name", sorted(docs_gen.DOCUMENTS))
def test_committed_docs_are_what_the_code_generates(name: str) -> None:
    _needs_nox(name)
    assert docs_gen.check(ROOT, only=[name]) == [], f"docs/ is stale: {FIX}"


def test_a_changed_task_help_makes_tasks_md_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    module = sources.load_tasks(ROOT)
    monkeypatch.setitem(module.serve.help, "port", "Port to bind, said differently.")
    monkeypatch.setattr(sources, "load_tasks", lambda root: module)
    assert docs_gen.check(ROOT, only=["tasks"]) == [DOCS / "tasks.md"]


def test_a_changed_session_option_makes_sessions_md_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = sources.load_nox_sessions(ROOT)
    declared = loaded.module.SESSION_OPTIONS["validate-cpu"]
    first = replace(declared.options[0], help="vLLM version, said differently")
    monkeypatch.setitem(
        loaded.module.SESSION_OPTIONS, "validate-cpu", replace(declared, options=(first, *declared.options[1:]))
    )
    monkeypatch.setattr(sources, "load_nox_sessions", lambda root: loaded)
    assert docs_gen.check(ROOT, only=["sessions"]) == [DOCS / "sessions.md"]


def test_a_changed_known_failure_makes_the_guide_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    first, *rest = diagnose.KNOWN_FAILURES
    monkeypatch.setattr(diagnose, "KNOWN_FAILURES", (replace(first, symptom="a line said differently"), *rest))
    assert docs_gen.check(ROOT, only=["guide"]) == [DOCS / "vllm-validation.md"]


def test_reading_the_sessions_puts_back_what_nox_had_registered() -> None:
    import nox

    assert nox.registry.get() == {}, "this test expects no session registered in the test process"

    @nox.session(name="docs-gen-probe", python="3.11", tags=["probe"], default=False)
    def probe(session: nox.Session) -> None:
        """A session registered before the docs read the noxfile."""

    try:
        assert "validate" in sources.load_nox_sessions(ROOT).sessions
        after = nox.registry.get()
        assert list(after) == ["docs-gen-probe"]
        kept = after["docs-gen-probe"]
        assert (kept.func, kept.python, kept.tags, kept.default) == (probe.func, "3.11", ["probe"], False)
    finally:
        nox.registry.reset()


def test_generating_twice_gives_the_same_text_without_this_machines_paths() -> None:
    pytest.importorskip("nox")
    first, second = docs_gen.generate(ROOT), docs_gen.generate(ROOT)
    assert first == second
    for path, text in first.items():
        assert str(ROOT) not in text, f"{path.name} holds this checkout's absolute path"
        assert str(Path.home()) not in text, f"{path.name} holds this machine's home folder"


def test_the_guide_has_the_model_cards_serve_command() -> None:
    guide = (DOCS / "vllm-validation.md").read_text(encoding="utf-8")
    for text in (
        "vllm serve",
        "lightonai/LightOnOCR-2-1B",
        "--limit-mm-per-prompt '{\"image\": 1}'",
        "--mm-processor-cache-gb 0",
        "--no-enable-prefix-caching",
    ):
        assert text in guide
    command = next(line for line in guide.splitlines() if line.startswith("vllm serve "))
    assert "lightonai/LightOnOCR-2-1B" in command and "--no-enable-prefix-caching" in command


def test_hand_written_text_outside_the_markers_survives_regeneration(tmp_path: Path) -> None:
    original = (DOCS / "vllm-validation.md").read_text(encoding="utf-8")
    begin = markers.BEGIN.format(name="serve-command")
    prose = "A paragraph a person wrote, with a | pipe and <!-- a comment -->.\n\n"
    edited = original.replace(begin, prose + begin + "\nstale text inside the block\n", 1)
    (tmp_path / "vllm-validation.md").write_text(edited, encoding="utf-8")

    regenerated = docs_gen.generate(ROOT, out=tmp_path, only=["guide"])[tmp_path / "vllm-validation.md"]

    assert prose + begin in regenerated
    assert "stale text inside the block" not in regenerated
    assert regenerated == original.replace(begin, prose + begin, 1)


def test_markers_fill_only_between_markers_and_refuse_mismatches() -> None:
    text = "intro\n" + markers.empty_block("a") + "\noutro\n"
    assert markers.fill(text, {"a": "body"}) == (
        "intro\n<!-- generated:begin a -->\n\nbody\n\n<!-- generated:end a -->\noutro\n"
    )
    with pytest.raises(markers.MarkerError, match="add the markers"):
        markers.fill(text, {"a": "body", "b": "other"})
    with pytest.raises(markers.MarkerError, match="no generator renders"):
        markers.fill(text, {})
    with pytest.raises(markers.MarkerError, match="without their begin/end partner"):
        markers.fill(text + "<!-- generated:begin c -->\n", {"a": "body"})


def test_every_registered_check_is_in_checks_md() -> None:
    from lightonocr_validation.check.registry import CHECKS

    text = (DOCS / "checks.md").read_text(encoding="utf-8")
    for check in CHECKS:
        assert f"### {check.id}\n" in text, check.id
        assert check.title() in text and check.hint in text and check.failure in text


def test_every_nox_session_is_in_sessions_md() -> None:
    pytest.importorskip("nox")
    text = (DOCS / "sessions.md").read_text(encoding="utf-8")
    sessions = sources.load_nox_sessions(ROOT).sessions
    assert {"validate", "tests", "docs"} <= set(sessions)
    for name in sessions:
        assert f"### {name}\n" in text, name
    assert "`--vllm VLLM`" in text  # the validate sessions' own options, from their argparse parser


def test_every_task_and_configuration_key_is_in_tasks_md() -> None:
    from lightonocr_validation.core.settings import DEFAULTS
    from lightonocr_validation.docs.tasks_doc import _leaves, task_entries

    text = (DOCS / "tasks.md").read_text(encoding="utf-8")
    for name, task in task_entries(sources.load_tasks(ROOT).ns):
        assert f"### invoke {name}\n" in text, name
        for argument in task.get_arguments(ignore_unknown_help=True):
            assert f"`--{argument.names[0]}`" in text, (name, argument.names[0])
    for path, _ in _leaves(DEFAULTS):
        assert f"`{'.'.join(path)}`" in text


def test_every_configuration_note_names_a_key_of_the_defaults() -> None:
    from lightonocr_validation.core.settings import DEFAULTS, NOTES
    from lightonocr_validation.docs.tasks_doc import _leaves

    keys = {".".join(path[:n]) for path, _ in _leaves(DEFAULTS) for n in range(1, len(path) + 1)}
    assert set(NOTES) - keys == set(), "settings.NOTES explains keys DEFAULTS does not have"
    assert "server.port" in NOTES and "check.hosts" in NOTES


def test_invoke_docs_check_fails_in_one_line_naming_the_stale_files(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import tasks

    stale = ["tasks.md", "checks.md"]
    monkeypatch.setattr(docs_gen, "check", lambda root: [root / "docs" / name for name in stale])
    with pytest.raises(Exit) as raised:
        tasks.docs(Context(), check=True)
    assert raised.value.code == 1
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0
    assert "docs/tasks.md, docs/checks.md" in error and "nox -s docs" in error


def test_missing_documents_are_written_from_their_templates(tmp_path: Path) -> None:
    pytest.importorskip("nox")
    shutil.copy(DOCS / "vllm-validation.md", tmp_path / "vllm-validation.md")
    assert len(docs_gen.check(ROOT, out=tmp_path)) == 6
    written = docs_gen.write(ROOT, out=tmp_path)
    names = ["accuracy.md", "bench.md", "checks.md", "gpu.md", "sessions.md", "tasks.md"]
    assert sorted(path.name for path in written) == names
    assert docs_gen.check(ROOT, out=tmp_path) == []
    assert docs_gen.write(ROOT, out=tmp_path) == []


def test_the_readme_shows_the_shipped_example_profile() -> None:
    example = (ROOT / "invoke.example.yaml").read_text(encoding="utf-8")
    assert f"```yaml\n{example}```" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_guides_key_story_quotes_what_the_checks_say(monkeypatch: pytest.MonkeyPatch) -> None:
    # The guide quotes MOD001's two 401 details; they must be the code's words, not a paraphrase that drifts.
    from lightonocr_validation.vllm.client import Target, key_refusal

    guide = (DOCS / "vllm-validation.md").read_text(encoding="utf-8")
    monkeypatch.delenv("VLLM_API_KEY", raising=False)
    unset, _ = key_refusal(Target("http://h:8000", api_key_env="VLLM_API_KEY"), 401, "/v1/models")
    assert f"`{unset}`" in " ".join(guide.split())
    wrong, _ = key_refusal(Target("https://x", api_key="sk-1", api_key_env="REMOTE_GPU_API_KEY"), 401, "/v1/models")
    assert f"`... {wrong.split(': ', 1)[1]}`" in guide
