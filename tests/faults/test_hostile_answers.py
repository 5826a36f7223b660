"""The client and `invoke check` against hostile servers: no traceback, a documented exit code, a named cause,
no secret in any output, and never `validated` for a broken answer.

Property tests throw random answers (status, headers, JSON of random shapes, bodies cut short, binary) at
the client and at `run_check`; one test per switch of the hostile server runs the real command line.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import certifi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from lightonocr_validation.check.command import CheckOptions, run_check
from lightonocr_validation.core import config as config_module
from lightonocr_validation.core.redaction import Redactor, written_forms
from lightonocr_validation.core.settings import DEFAULTS
from lightonocr_validation.vllm.client import BadAnswer, Response, StreamResult, Target, Unreachable, VllmClient
from tests.faults.hostile import Hostile, Scripted, self_signed_bundle
from tests.processes import ROOT

MODEL = "lightonai/LightOnOCR-2-1B"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 64}
# Checks that read every endpoint the property tests script: kept few, so an example runs in a second.
PROPERTY_CHECKS = ["RDY001", "RDY002", "RDY003", "MOD001", "MOD002", "OCR001", "SRV005", "SRV006", "SRV007"]
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Keys go in a header (latin-1) and passwords in a URL: printable ASCII, and URL-safe characters for passwords.
keys = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="\\"), min_size=8)
passwords = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~", min_size=8)
# Marked at both ends, so that a secret never matches a word the reports hold anyway ("host_ver").
keys, passwords = keys.map(lambda text: f"K3Y{text}Q"), passwords.map(lambda text: f"PW{text}Q")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
vllm_keys = st.sampled_from(["data", "choices", "message", "content", "usage", "version", "error", "id", "object"])
vllm_shaped = st.recursive(
    st.none() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(vllm_keys, inner, max_size=5),
    max_leaves=15,
)


@st.composite
def answers(draw: st.DrawFn, secret: str = "") -> tuple[int, dict[str, str], bytes, bool]:
    """One server answer: status, headers, body (JSON of any shape, an echo of the secret, binary, HTML,
    a big one), and whether the body is cut short."""
    status = draw(st.sampled_from([200, 200, 200, 201, 204, 301, 400, 401, 403, 404, 429, 500, 502, 503]))
    kind = draw(st.sampled_from(["application/json", "text/html", "text/plain", "text/event-stream", ""]))
    body = draw(
        st.one_of(
            vllm_shaped.map(lambda v: json.dumps(v).encode()),
            json_values.map(lambda v: json.dumps(v).encode()),
            st.binary(max_size=200),
            st.just(f'{{"error": {{"message": "bad key {secret}"}}}}'.encode()),
            st.just(json.dumps({"detail": f"Bearer {secret}"}).encode()),
            st.just(b"<html><body>proxy</body></html>"),
            st.just(b"data: {broken\n\ndata: [DONE]\n\n"),
            st.integers(1, 300_000).map(lambda n: b'{"data": "' + b"x" * n + b'"}'),
        )
    )
    cut = draw(st.booleans()) and len(body) > 0
    return status, ({"Content-Type": kind} if kind else {}), body, cut


@pytest.fixture(scope="module")
def scripted() -> Scripted:
    with Scripted() as server:
        yield server


@SETTINGS
@given(answer=answers(), path=st.sampled_from(["/health", "/version", "/v1/models", "/metrics"]))
def test_any_answer_to_a_get_is_a_response_or_a_named_failure(
    scripted: Scripted, answer: tuple[int, dict[str, str], bytes, bool], path: str
) -> None:
    scripted.answer(*answer[:3], cut=answer[3])
    client = VllmClient(Target(scripted.url, timeout=5))
    try:
        reply = client.get(path)
    except (BadAnswer, Unreachable) as error:
        assert str(error) and "\n" not in str(error)
        if answer[3]:
            assert "cut its answer short" in str(error)
        return
    finally:
        client.close()
    assert isinstance(reply, Response) and reply.status == answer[0]
    assert not answer[3] or answer[0] == 204, "a body cut short must not pass as a whole answer (204 has none)"
    try:
        reply.json()
    except ValueError as error:  # NotJson: one line that names what came instead
        assert isinstance(error, BadAnswer) and "\n" not in str(error)


@SETTINGS
@given(answer=answers())
def test_any_answer_to_a_completion_or_a_stream_is_a_result_or_a_named_failure(
    scripted: Scripted, answer: tuple[int, dict[str, str], bytes, bool]
) -> None:
    scripted.answer(*answer[:3], cut=answer[3])
    client = VllmClient(Target(scripted.url, timeout=5))
    try:
        for call in (lambda: client.post("/v1/chat/completions", CHAT), lambda: client.stream_chat(CHAT)):
            try:
                result = call()
            except (BadAnswer, Unreachable) as error:
                assert str(error) and "\n" not in str(error)
                continue
            assert isinstance(result, Response | StreamResult)
            if len(answer[2]) > 64 * 768 + 64 * 1024 + 64 * 1024:
                pytest.fail(f"{len(answer[2])} bytes accepted for max_tokens=64")
    finally:
        client.close()


def _run(url: str, *, api_key: str = "", insecure: bool = False, only: list[str] = PROPERTY_CHECKS, **paths: Path):
    """run_check in process as `invoke check` runs it; (exit code, console text, stderr text)."""
    cfg = config_module.load(DEFAULTS)
    cfg = config_module.apply_flags(cfg, "check", ROOT, timeout=5.0)
    options = CheckOptions(config=cfg, hosts=[url], only=only, insecure=insecure, **paths)
    out, err = io.StringIO(), io.StringIO()
    previous = os.environ.get("VLLM_API_KEY")
    os.environ["VLLM_API_KEY"] = api_key
    try:
        code = run_check(options, console=Console(file=out, width=120), errors=Console(file=err, width=120))
    finally:
        if previous is None:
            os.environ.pop("VLLM_API_KEY", None)
        else:
            os.environ["VLLM_API_KEY"] = previous
    return code, out.getvalue(), err.getvalue()


def _leaks(secret: str, texts: dict[str, str]) -> list[str]:
    forms = written_forms(secret)
    return [name for name, text in texts.items() for form in forms if form in text]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), key=keys, password=passwords)
def test_run_check_on_random_answers_never_validates_never_leaks(
    scripted: Scripted, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, key: str, password: str
) -> None:
    answer = data.draw(answers(secret=key))
    if data.draw(st.booleans()):  # the URL password echoed instead of the key
        answer = (answer[0], answer[1], answer[2].replace(key.encode(), password.encode()), answer[3])
    scripted.answer(*answer[:3], cut=answer[3])
    folder = tmp_path_factory.mktemp("reports")
    reports = {"report_json": folder / "r.json", "junit": folder / "r.xml", "report_md": folder / "r.md"}
    url = scripted.url.replace("http://", f"http://user:{password}@")
    code, out, err = _run(url, api_key=key, **reports)
    assert code in (1, 2), f"exit {code} for a server that answers {answer[0]} to everything"
    texts = {"stdout": out, "stderr": err, **{name: path.read_text("utf-8") for name, path in reports.items()}}
    assert "Traceback" not in out + err
    assert not _leaks(key, texts) and not _leaks(password, texts)
    assert json.loads(texts["report_json"])["verdict"]["word"] != "validated"


def test_the_redactor_finds_a_key_split_by_json_escaping() -> None:
    key = 'sk-"quoted/slash"-é-key'
    redactor = Redactor([key])
    for text in (json.dumps({"k": key}), json.dumps({"k": key}, ensure_ascii=False), json.dumps(json.dumps(key))):
        assert "quoted" not in redactor(text), text
    assert redactor("http://user:pw@host:8000/v1") == "http://user:(redacted)@host:8000/v1"


def test_insecure_and_a_ca_bundle_win_over_requests_ca_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    with Hostile("tls") as server:
        for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
            monkeypatch.setenv(variable, certifi.where())  # a real bundle that does not hold our certificate
            for verify in (False, self_signed_bundle(server)):
                client = VllmClient(Target(server.url, verify=verify, timeout=5))
                assert client.get("/health").status == 200, (variable, verify)
                client.close()
            client = VllmClient(Target(server.url, timeout=5))  # the default: the environment's bundle applies
            with pytest.raises(Unreachable, match="TLS verification failed"):
                client.get("/health")
            client.close()
            monkeypatch.delenv(variable)


# --- the real command line, one switch at a time ------------------------------------------------------------

KEY = "sk-hostile-0123456789"
PASSWORD = "pw-hostile-98765"


def invoke_check(url: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "VLLM_API_KEY": KEY, "COLUMNS": "160", **(env or {})}
    environment.pop("REQUESTS_CA_BUNDLE", None)
    return subprocess.run(
        [sys.executable, "-m", "invoke", "check", "--host", url, *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
    )


CASES = {
    # switch: (url form, flags, exit code, words the output must hold)
    "truncated": ("{url}", ["--only", "OCR001"], 1, "cut its answer short"),
    "html": ("{url}", ["--only", "MOD001"], 1, "with an HTML page, not vLLM's JSON: is the URL a proxy or web UI?"),
    "data": ("{url}", ["--only", "MOD001"], 1, "its data is a string, not a list of models"),
    "echo401": (
        "http://user:{password}@{hostport}",
        ["--only", "OCR001"],
        1,
        "Unauthorized: Basic (redacted) is not a key",
    ),
    "echo500": ("{url}", ["--only", "OCR001"], 1, "HTTP 500: Internal error while handling"),
    "hang": ("{url}", ["--only", "SRV007", "--timeout", "2"], 2, "did not answer in time"),
    "drip": ("{url}", ["--only", "SRV007", "--timeout", "2"], 1, "drips its answer"),
    "huge": ("{url}", ["--only", "OCR001"], 1, "at most 3211264 bytes are possible"),
    "reset": ("{url}", ["--only", "SRV007"], 2, "the connection without answering"),
    "sse": ("{url}", ["--only", "SRV005"], 1, "not JSON"),
    "ctype": ("{url}", ["--only", "MOD001"], 1, "content type text/plain"),
    "tls": ("http://{hostport}", ["--only", "RDY001", "--insecure"], 2, "the port speaks TLS: use https://"),
    "plain": ("https://{hostport}", ["--only", "RDY001", "--insecure"], 2, "the port speaks plain HTTP"),
    # Under the byte cap, but more text than 4096 tokens of at most 128 bytes can make: failed, not graded.
    "huge-text": ("{url}", ["--only", "OCR001"], 1, "at most 524288 bytes are possible (128 bytes a token at most)"),
}
SERVERS = {"plain": ("", {}), "huge-text": ("huge", {"size": 600_000})}


@pytest.mark.parametrize("switch", list(CASES))
def test_invoke_check_against_each_hostile_switch(switch: str) -> None:
    form, flags, code, words = CASES[switch]
    name, options = SERVERS.get(switch, (switch, {}))
    with Hostile(name, api_key=KEY, data="lightonai/LightOnOCR-2-1B", **options) as server:
        hostport = f"127.0.0.1:{server.port}"
        result = invoke_check(form.format(url=server.url, hostport=hostport, password=PASSWORD), *flags)
    output = result.stdout + result.stderr
    assert result.returncode == code, output
    assert words in " ".join(output.split()), output
    assert "Traceback" not in output and "IncompleteRead" not in output
    assert KEY not in output and PASSWORD not in output
    if switch == "truncated":
        assert "unreachable" not in output.lower()
    if switch in ("tls", "plain"):  # --insecure was given: the cause must not suggest it
        assert all("--insecure" not in line for line in output.splitlines() if "speaks" in line)


def test_the_target_session_keeps_proxies_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from lightonocr_validation.vllm.client import configured_session

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    for verify, expected in ((False, False), ("/etc/ca.pem", "/etc/ca.pem"), (True, certifi.where())):
        session = configured_session(Target("https://gpu.example", verify=verify))
        merged = session.merge_environment_settings("https://gpu.example/health", {}, None, None, None)
        assert merged["proxies"].get("https") == "http://proxy.example:3128"
        assert merged["verify"] == expected
        session.close()


def test_the_shape_accessor_gives_none_where_the_shape_differs() -> None:
    from lightonocr_validation.core.shape import dig, kind, typed

    answer = {"choices": [{"message": {"content": "text"}}], "data": "a string"}
    assert dig(answer, "choices", 0, "message", "content") == "text"
    assert dig(answer, "choices", 1, "message") is None
    assert dig(answer, "data", 0) is None and dig("not an object", "data") is None
    assert typed(True, int) is None and typed(3, int) == 3 and typed("3", int, 0) == 0
    shapes = [kind(v) for v in (None, "s", [1, 2], {}, 1.5)]
    assert shapes == ["null", "a string", "a list of 2", "an object", "a number"]


def test_an_answer_longer_than_max_tokens_can_make_is_refused_and_a_long_healthy_one_is_not() -> None:
    """impossible_length both ways: a healthy reading that fills max_tokens with the widest text a trained
    model writes (a misread ground truth, CJK and accented characters, reflowed) is kept and graded; a text
    past max_tokens x LONGEST_TOKEN_BYTES, which no model can generate, is a problem and is not graded."""
    import dataclasses

    from lightonocr_validation.check.page_answers import PageAnswer, impossible_length
    from lightonocr_validation.pages.inputs import sample_pages
    from lightonocr_validation.pages.samples import SAMPLES_DIR

    page = sample_pages(str(SAMPLES_DIR))[0]
    reading = page.sample.ground_truth[0].replace("e", "c", 3).replace("\n\n", "\n") + "\n漢字のページ — àéîõü"
    max_tokens = 4096
    healthy_text = (reading * max_tokens)[: max_tokens * 4]  # every token 4 characters, many of them 3 bytes
    healthy = PageAnswer(page, 200, 1.0, healthy_text, "length", 2377, max_tokens, "")
    assert impossible_length(healthy, max_tokens) == healthy
    broken = dataclasses.replace(healthy, text="x" * (max_tokens * 128 + 1))
    judged = impossible_length(broken, max_tokens)
    assert judged.text == "" and judged.problem.startswith(f"the text is {max_tokens * 128 + 1} bytes")
    assert judged.problem.endswith("not graded")
