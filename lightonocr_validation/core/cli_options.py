"""Command-line options declared as data: one table builds the argparse parser and the documentation.

argparse keeps its options in a private list (`parser._actions`), so a parser cannot be documented without
reaching into it. A session or module that takes options declares them as `Option`s instead; `build_parser`
turns them into the parser and docs/sessions.md renders the same table.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Option:
    flag: str  # `--name`; the parsed attribute is the name with `-` as `_`
    help: str
    default: Any = None
    metavar: str | None = None
    type: Callable[[str], Any] | None = None
    switch: bool = False  # a flag without a value (store_true)
    repeat: bool = False  # may be given several times; the values are collected in a list
    required: bool = False

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")

    @property
    def usage(self) -> str:
        """The option as typed: `--tiny`, `--vllm VLLM`, `--have NAME==VERSION`."""
        return self.flag if self.switch else f"{self.flag} {self.metavar or self.dest.upper()}"


@dataclass(frozen=True)
class OptionSet:
    """A program's options, with what its --help says around them."""

    prog: str
    description: str
    options: tuple[Option, ...]
    epilog: str | None = None

    def parser(self) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(prog=self.prog, description=self.description, epilog=self.epilog)
        for option in self.options:
            parser.add_argument(option.flag, **_argparse_keywords(option))
        return parser


def _argparse_keywords(option: Option) -> dict[str, Any]:
    if option.switch:
        return {"action": "store_true", "help": option.help}
    keywords: dict[str, Any] = {"help": option.help, "required": option.required}
    if option.repeat:
        keywords["action"] = "append"
        keywords["default"] = list(option.default or [])
    elif option.default is not None:
        keywords["default"] = option.default
    if option.metavar:
        keywords["metavar"] = option.metavar
    if option.type is not None:
        keywords["type"] = option.type
    return keywords
