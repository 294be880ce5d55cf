"""Pipe tables in Markdown, as neotoma's schedules and test plans write them (pure)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

_SEPARATOR_CELL = re.compile(r":?-{2,}:?")


def split_row(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def is_separator(cells: list[str]) -> bool:
    return all(_SEPARATOR_CELL.fullmatch(cell.replace(" ", "")) for cell in cells if cell)


@dataclass(frozen=True)
class MdTable:
    """A run of `|` lines: its lower-cased header and its body rows (0-based line numbers)."""

    header: list[str]
    has_separator: bool
    rows: list[tuple[int, list[str]]]

    def column(self, matches: Callable[[str], bool]) -> int | None:
        return next((i for i, cell in enumerate(self.header) if matches(cell)), None)


def tables(lines: list[str]) -> Iterator[MdTable]:
    index = 0
    while index < len(lines) - 1:
        if not lines[index].lstrip().startswith("|"):
            index += 1
            continue
        header = [cell.lower() for cell in split_row(lines[index])]
        row = index + 1
        body: list[tuple[int, list[str]]] = []
        while row < len(lines) and lines[row].lstrip().startswith("|"):
            body.append((row, split_row(lines[row])))
            row += 1
        separator = bool(body) and is_separator(body[0][1])
        yield MdTable(header, separator, body[1:] if separator else body)
        index = row
