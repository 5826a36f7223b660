"""One redactor that knows every secret of a run, applied wherever text leaves the program.

A secret is an API key, a URL's password (http://user:pw@host) or a header value from a host profile.
It reaches output by many roads: a 401 or 500 body that echoes the key, an error that quotes the URL, a
JSON body that carries the key escaped (``\\u00e9``, ``\\/``), a URL that carries it percent-encoded. The
redactor replaces every written form it can reasonably take, and masks the password of any URL it sees
whether or not the run knows it. It is applied twice: to the text before it is rendered (report dicts,
error lines: a table cell that wraps would split a secret over two lines), and to every byte written to
the terminal (`redacting`), where nothing can slip past the first.
"""

from __future__ import annotations

import base64
import html
import json
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO
from urllib.parse import quote, quote_plus, unquote, urlsplit

from lightonocr_validation.core.errors import UserError

# What a secret is replaced by: no Markdown or XML markup in it, so every report shows it as it is.
REDACTED = "(redacted)"
# A secret shorter than this is not searched for in free text: replacing a 3-letter key everywhere would
# garble every word containing it, and no real API key is that short. A URL's password is masked by its
# place in the URL instead, whatever its length.
MIN_SECRET_LENGTH = 6
# Words in an environment variable's name that mark its value as a secret (VLLM_API_KEY, HF_TOKEN, ...).
SECRET_NAME_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD")
# scheme://user:password@ -> scheme://user:(redacted)@ (the user name is not a secret; the password always is).
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/?#@:]*):(?P<password>[^\s/?#@]*)@")


def names_a_secret(variable: str) -> bool:
    """Whether an environment variable's name says its value is a secret: never shown, never recorded."""
    return any(word in variable.upper() for word in SECRET_NAME_WORDS)


def written_forms(secret: str) -> set[str]:
    """The forms a secret takes in the text a server or a library writes: as is, JSON-escaped (once, and
    twice for JSON inside a JSON string), percent-encoded, HTML-escaped, and as Python's repr shows it."""
    forms = {secret}
    for _ in range(2):
        for form in list(forms):
            forms.add(json.dumps(form)[1:-1])
            forms.add(json.dumps(form, ensure_ascii=False)[1:-1])
            forms.add(json.dumps(form).replace("/", "\\/")[1:-1])  # some encoders escape the slash too
    forms |= {quote(secret, safe=""), quote(secret), quote_plus(secret), html.escape(secret), repr(secret)[1:-1]}
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


class Redactor:
    """Replaces every known secret, in every written form, and masks URL passwords. Thread-safe; secrets
    may be added while the run goes (a host's key is known once its profile is read)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        with self._lock:
            for secret in secrets:
                if secret and len(secret) >= MIN_SECRET_LENGTH:
                    self._forms |= written_forms(secret)
            ordered = sorted(self._forms, key=len, reverse=True)  # the longest form first: no half-replaced key
            self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def add_target(self, target: Any) -> None:
        self.add(*target_secrets(target))

    def __call__(self, text: str) -> str:
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(REDACTED, text)
        if "://" in text:
            text = _URL_PASSWORD.sub(lambda m: f"{m['head']}:{REDACTED}@", text)
        return text

    def value(self, value: Any) -> Any:
        """A JSON-like value (dicts, lists, strings, numbers) with every string redacted, keys included."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {self.value(key): self.value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        return value


def target_secrets(target: Any) -> list[str]:
    """What of a Target must never be shown: its API key, every profile header's value, the URL's
    password (raw and percent-decoded), its user:password pair and that pair as Basic auth sends it."""
    found = [getattr(target, "api_key", "") or ""]
    found += [value for _, value in getattr(target, "headers", ())]
    parts = urlsplit(getattr(target, "base_url", "") or "")
    if parts.password:
        found += [parts.password, unquote(parts.password)]
        found.append(parts.netloc.rsplit("@", 1)[0])
        # requests sends URL credentials as HTTP Basic auth: a server that echoes the header shows this.
        pair = f"{unquote(parts.username or '')}:{unquote(parts.password)}"
        found.append(base64.b64encode(pair.encode("latin-1", "replace")).decode("ascii"))
    return [secret for secret in found if secret]


class RedactingFile:
    """A text stream that redacts what is written through it, for a rich Console's ``file``."""

    def __init__(self, inner: TextIO, redactor: Redactor) -> None:
        self._inner = inner
        self._redactor = redactor

    def write(self, text: str) -> int:
        self._inner.write(self._redactor(text))
        return len(text)

    def flush(self) -> None:
        self._inner.flush()

    def isatty(self) -> bool:
        return self._inner.isatty()

    def fileno(self) -> int:
        return self._inner.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self._inner, "encoding", "utf-8") or "utf-8"


@contextmanager
def redacting(redactor: Redactor, *consoles: Any) -> Iterator[Redactor]:
    """Every byte the consoles write while the block runs goes through ``redactor``; restored afterwards. A
    UserError leaving the block is re-raised redacted: the task layer prints it after the consoles are restored."""
    saved = [vars(console).get("_file") for console in consoles]
    for console in consoles:
        console.file = RedactingFile(console.file, redactor)
    try:
        yield redactor
    except UserError as error:
        raise UserError(redactor(str(error)), error.code) from None
    finally:
        for console, file in zip(consoles, saved, strict=True):
            console._file = file
