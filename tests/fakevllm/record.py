"""Record how a real vLLM server answers the requests the checks send, for the fake server to replay.

Run against a live server (the CPU build with the tiny model is enough):
    python -m tests.fakevllm.record http://127.0.0.1:8000 lightonocr-tiny tests/fakevllm/answers-0.32.0.json [PID]
With PID, the server's EngineCore process (`VLLM::EngineCore` in its process group), the engine is killed
last, as an out-of-memory error ends it, and the dead server's answers are recorded too (the server then
exits: stop what is left of it with `invoke stop`).
Bodies are stored as the server sent them; volatile fields (ids, timestamps) are kept, and the fake
server regenerates them per request.
"""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import sys
import time
from pathlib import Path

import requests
from PIL import Image


def _png_data_url(width: int, height: int) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _image(url: str) -> dict:
    return {"type": "image_url", "image_url": {"url": url}}


def record(base: str, model: str) -> dict:
    page = _png_data_url(1190, 1540)
    small = _png_data_url(56, 56)
    corrupt = "data:image/png;base64," + base64.b64encode(b"this is not an image").decode()

    def chat(content, **extra):
        return {
            "model": model,
            "messages": [{"role": "user", "content": content}],
            "max_tokens": 16,
            "temperature": 0.2,
            "top_p": 0.9,
            **extra,
        }

    cases = {
        "health": ("GET", "/health", None),
        "ping": ("GET", "/ping", None),
        "version": ("GET", "/version", None),
        "models": ("GET", "/v1/models", None),
        "metrics": ("GET", "/metrics", None),
        "page_letter": ("POST", "/v1/chat/completions", chat([_image(page)])),
        "page_small": ("POST", "/v1/chat/completions", chat([_image(small)])),
        "greedy": ("POST", "/v1/chat/completions", chat([_image(small)], temperature=0.0)),
        "two_images": ("POST", "/v1/chat/completions", chat([_image(small), _image(small)])),
        "corrupt_image": ("POST", "/v1/chat/completions", chat([_image(corrupt)])),
        "text_only": ("POST", "/v1/chat/completions", chat("Hello")),
        "wrong_model": ("POST", "/v1/chat/completions", {**chat([_image(small)]), "model": "no-such-model"}),
        "max_tokens_too_large": ("POST", "/v1/chat/completions", chat([_image(small)], max_tokens=100000)),
        "missing_messages": ("POST", "/v1/chat/completions", {"model": model}),
        "malformed_json": ("POST", "/v1/chat/completions", "{not json"),
        "unknown_path": ("GET", "/v1/nothing-here", None),
    }
    answers = {}
    for name, (method, path, body) in cases.items():
        kwargs = (
            {"data": body, "headers": {"Content-Type": "application/json"}} if isinstance(body, str) else {"json": body}
        )
        reply = requests.request(method, base + path, timeout=120, **kwargs)
        answers[name] = {
            "method": method,
            "path": path,
            "status": reply.status_code,
            "content_type": reply.headers.get("content-type", ""),
            "body": reply.text,
        }
    with requests.post(
        base + "/v1/chat/completions",
        json=chat([_image(small)], stream=True, stream_options={"include_usage": True}),
        stream=True,
        timeout=120,
    ) as reply:
        lines = [line for line in reply.iter_lines(decode_unicode=True)]
        answers["stream"] = {
            "method": "POST",
            "path": "/v1/chat/completions",
            "status": reply.status_code,
            "content_type": reply.headers.get("content-type", ""),
            "body": "\n".join(lines),
        }
    return answers


# What a server whose engine died answers: a page request (500) and /health (503), in that order.
ENGINE_DEAD_CASES = ("engine_dead_chat", "engine_dead_health")


def record_dead_engine(base: str, model: str) -> dict:
    """The answers of a server whose engine is dead (the caller killed it, or the fake was told to die)."""
    page = {"type": "image_url", "image_url": {"url": _png_data_url(56, 56)}}
    body = {"model": model, "messages": [{"role": "user", "content": [page]}], "max_tokens": 16}
    answers = {}
    for name, method, path, json_body in (
        ("engine_dead_chat", "POST", "/v1/chat/completions", body),
        ("engine_dead_health", "GET", "/health", None),
    ):
        reply = requests.request(method, base + path, json=json_body, timeout=120)
        answers[name] = {
            "method": method,
            "path": path,
            "status": reply.status_code,
            "content_type": reply.headers.get("content-type", ""),
            "body": reply.text,
        }
    return answers


def main() -> int:
    base, model, out = sys.argv[1].rstrip("/"), sys.argv[2], Path(sys.argv[3])
    answers = record(base, model)
    if len(sys.argv) > 4:
        os.kill(int(sys.argv[4]), signal.SIGKILL)
        time.sleep(2)  # the API server notices the dead engine core
        answers.update(record_dead_engine(base, model))
    version = json.loads(answers["version"]["body"])["version"]
    out.write_text(json.dumps({"vllm_version": version, "model": model, "answers": answers}, indent=1) + "\n")
    print(f"recorded {len(answers)} answers from vLLM {version} into {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
