"""`--pages DIR` with hostile pages: each bad page left out with a one-line reason, the others still judged; a
pixel bound read from the header before anything is decoded; a page decoded once and kept as its payload.
And `invoke serve --replicas N` on the CPU bounded by the machine's cores and memory before anything starts."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import pytest
from PIL import Image

from lightonocr_validation.core.config import ModelSettings
from lightonocr_validation.core.errors import UserError
from lightonocr_validation.core.hardware import CPU_SERVER_BYTES, Cpu, cpu_servers_max
from lightonocr_validation.pages import inputs, user_pages
from lightonocr_validation.pages.user_pages import PagesError, UserPage, load_page_set, load_pages
from lightonocr_validation.serve import fleet as fleet_serve
from tests.conftest import CONFIG
from tests.doors.test_tasks_cli import STAND_IN_VLLM
from tests.fakevllm.server import FakeVllm
from tests.processes import ROOT

SAMPLES = ROOT / "samples"
INVOKE = Path(sys.executable).parent / "invoke"


def blank_png(path: Path, width: int, height: int) -> None:
    """A grey PNG of ``width`` x ``height`` zero pixels: a few KB on disk whatever its size in pixels."""
    packer = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b""))


def good_page(folder: Path, name: str = "receipt") -> None:
    shutil.copy(SAMPLES / "receipt-01.png", folder / f"{name}.png")
    shutil.copy(SAMPLES / "receipt-01.md", folder / f"{name}.md")


def test_a_latin1_ground_truth_is_left_out_naming_the_encoding_and_the_fix(tmp_path: Path) -> None:
    good_page(tmp_path)
    shutil.copy(SAMPLES / "prose-01.png", tmp_path / "letter.png")
    (tmp_path / "letter.md").write_bytes("Réunion du comité\n".encode("latin-1"))
    pages, unread = load_page_set(tmp_path)
    assert [page.id for page in pages] == ["receipt.png"]  # the UTF-8 page is read
    (left,) = unread
    assert left.file == tmp_path / "letter.md" and "\n" not in left.line()
    assert left.reason.startswith("not UTF-8 (byte 0xe9 at offset 1: Latin-1 or Windows-1252, most likely)")
    assert "iconv -f latin1 -t utf-8 letter.md" in left.reason
    with pytest.raises(PagesError, match=r"letter\.md: not UTF-8"):
        load_pages(tmp_path)  # the strict form (a benchmark's pages) refuses the set


def test_a_page_past_the_pixel_bound_is_refused_from_its_header(tmp_path: Path, monkeypatch) -> None:
    good_page(tmp_path)
    blank_png(tmp_path / "bomb.png", 40_000, 40_000)  # 1.6 Gpx announced: decoded, 1.6 GB at least
    (tmp_path / "bomb.md").write_text("x\n", encoding="utf-8")
    decoded: list[Path] = []
    load = Image.Image.load
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self.filename) or load(self))
    pages, unread = load_page_set(tmp_path)
    assert [page.id for page in pages] == ["receipt.png"]
    assert unread[0].reason.startswith("40000 x 40000 px, above the 150 Mpx a page may have (checked before decoding)")
    assert str(tmp_path / "bomb.png") not in [str(name) for name in decoded]  # never decoded


def test_the_pixel_bound_is_the_limit_both_ways(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(user_pages, "PAGE_PIXELS_MAX", 100 * 100)
    blank_png(tmp_path / "at.png", 100, 100)
    blank_png(tmp_path / "past.png", 101, 100)
    for name in ("at", "past"):
        (tmp_path / f"{name}.md").write_text("", encoding="utf-8")
    pages, unread = load_page_set(tmp_path)
    assert [page.id for page in pages] == ["at.png"]
    assert [(page.file.name, page.reason.split(",")[0]) for page in unread] == [("past.png", "101 x 100 px")]


def test_a_set_with_no_readable_page_is_one_error(tmp_path: Path) -> None:
    shutil.copy(SAMPLES / "prose-01.png", tmp_path / "letter.png")
    (tmp_path / "letter.md").write_bytes("été\n".encode("latin-1"))
    with pytest.raises(PagesError) as raised:
        load_page_set(tmp_path)
    assert str(raised.value).startswith(f"{tmp_path / 'letter.md'}: not UTF-8")


def test_a_page_wanted_by_many_threads_at_once_is_decoded_once(tmp_path: Path, monkeypatch) -> None:
    good_page(tmp_path, "burst")
    decodes = []
    image = UserPage.image
    monkeypatch.setattr(UserPage, "image", lambda self, *size: decodes.append(self.id) or image(self, *size))
    (page,) = load_pages(tmp_path)
    shared = inputs.UserPageInput(page, 0.1)
    payloads: list[str] = []
    threads = [threading.Thread(target=lambda: payloads.append(shared.data_url)) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert decodes == ["burst.png"] and len(set(payloads)) == 1  # one decode, one payload for all 16
    with Image.open(tmp_path / "burst.png") as original:
        assert (shared.width, shared.height) == original.size  # under 1540 px: sent as it is


def test_check_judges_the_other_pages_and_names_each_bad_one(tmp_path: Path) -> None:
    good_page(tmp_path)
    shutil.copy(SAMPLES / "prose-01.png", tmp_path / "letter.png")
    (tmp_path / "letter.md").write_bytes("Réunion\n".encode("latin-1"))
    blank_png(tmp_path / "bomb.png", 40_000, 40_000)
    (tmp_path / "bomb.md").write_text("x\n", encoding="utf-8")
    report = tmp_path / "r.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVOKE_")} | {"NO_COLOR": "1", "COLUMNS": "300"}
    with FakeVllm() as fake:
        args = ["check", "--host", fake.url, "--pages", str(tmp_path), "--only", "OCR001,OCR003"]
        run = subprocess.run([str(INVOKE), *args, "--report-json", str(report)], cwd=ROOT, env=env, text=True,
                             capture_output=True, timeout=120)  # fmt: skip
    assert run.returncode == 1 and "Traceback" not in run.stdout + run.stderr
    warnings = [line for line in run.stderr.splitlines() if line.startswith("warning: page left out:")]
    assert len(warnings) == 2 and any("bomb.png: 40000 x 40000 px" in line for line in warnings)
    checks = {check["id"]: check for check in json.loads(report.read_text())["hosts"][0]["checks"]}
    assert checks["OCR001"]["status"] == "pass"  # the readable page was sent and answered
    ocr003 = checks["OCR003"]
    assert ocr003["status"] == "fail" and ocr003["detail"].startswith("2 of 3 pages could not be read")
    assert {Path(page["file"]).name for page in ocr003["data"]["unread"]} == {"bomb.png", "letter.md"}
    assert ocr003["data"]["pages"] == 1 and ocr003["data"]["passed"] == 1  # the receipt was judged, and passed


# --- serve --replicas on the CPU --------------------------------------------------------------------------------


def test_cpu_servers_are_bounded_by_cores_and_memory() -> None:
    assert cpu_servers_max(Cpu(cores=2, memory_bytes=23 * 2**30)) == 2  # the cores bound
    assert cpu_servers_max(Cpu(cores=64, memory_bytes=3 * CPU_SERVER_BYTES + 1)) == 3  # the memory bounds
    assert cpu_servers_max(Cpu(cores=8, memory_bytes=1)) == 1  # one server is never refused here


def plan_of(replicas: int) -> fleet_serve.Plan:
    model = ModelSettings(id="m", served_name="m", weights="trained")
    return fleet_serve.plan(
        model, CONFIG.server, [], replicas=replicas, data_parallel_size=None, log_file=Path("x.log"), visible=None
    )


def test_a_cpu_fleet_the_machine_cannot_run_is_refused_naming_the_bound() -> None:
    machine = Cpu(cores=2, memory_bytes=23 * 2**30)
    fleet_serve.check_cpu(plan_of(2), machine)  # as many as the cores: accepted
    with pytest.raises(UserError) as refused:
        fleet_serve.check_cpu(plan_of(999), machine)
    assert str(refused.value).startswith(
        "--replicas 999 on the CPU: this machine runs at most 2 CPU vLLM server(s) (2 core(s), 23 GiB of memory"
    )
    assert "lower --replicas to 2 or fewer, or serve on GPUs (--device cuda)" in str(refused.value)


def test_serve_refuses_999_cpu_replicas_before_anything_starts(tmp_path: Path) -> None:
    executable = tmp_path / "vllm"
    executable.write_text(STAND_IN_VLLM.format(python=sys.executable))
    executable.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVOKE_")} | {
        "INVOKE_SERVER_EXECUTABLE": str(executable),
        "INVOKE_SERVER_PID_FILE": str(tmp_path / "server.pid"),
        "INVOKE_SERVER_LOG_FILE": str(tmp_path / "logs" / "vllm-serve.log"),
        "STAND_IN_PIDS": str(tmp_path / "pids.json"),
        "NO_COLOR": "1",
        "COLUMNS": "300",
    }
    run = subprocess.run(
        [str(INVOKE), "serve", "--device", "cpu", "--replicas", "999", "--port", "20000"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 2 and "Traceback" not in run.stdout + run.stderr
    (line,) = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert line.startswith("error: --replicas 999 on the CPU: this machine runs at most ")
    assert not (tmp_path / "pids.json").exists() and not (tmp_path / "logs").exists()  # nothing started
