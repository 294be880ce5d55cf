"""`orchd watch`'s loop: poll the status file, redraw the view in place, read keys.

Read-only and lock-free: it stats the file every `poll_s` (inode, mtime, size) and reads it
again only when one of them changed; the writer replaces it atomically, so every read is a
whole file. On a terminal it draws in the alternate screen, line by line over the last frame
(no flicker), capped to the terminal's height; piped, it prints the report at each change.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import termios
import time
import tty
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from rich.console import Console, Group, RenderableType

from orchestrator.adapters.watch_view import ViewState, body, footer, on_key, split_keys
from orchestrator.clock import utcnow
from orchestrator.core.release_timing import FINAL_RELEASE
from orchestrator.errors import OrchdError
from orchestrator.models.status import StatusFile

_REDRAW_S = 1.0  # elapsed times tick even when the file does not change


@dataclass
class FileProbe:
    """Has the file changed since the last look? A stat, not a read."""

    path: Path
    _seen: tuple[int, int, int] | None = field(default=None, init=False)

    def changed(self) -> bool:
        try:
            st = self.path.stat()
        except OSError:
            return False
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if key == self._seen:
            return False
        self._seen = key
        return True


@dataclass
class WatchSource:
    """Where the view comes from: the file, how to read it, whether an orchd runs it."""

    path: Path
    load: Callable[[Path], StatusFile]
    orchd_pid: Callable[[], int | None]
    parallel: int | None = None
    estimates_h: Mapping[str, float] = field(default_factory=dict)
    options: str = ""
    release_id: str = ""


class Watch:
    def __init__(self, source: WatchSource, *, poll_s: float = 0.5) -> None:
        self.source = source
        self.poll_s = poll_s
        self.probe = FileProbe(source.path)
        self.snapshot: StatusFile | None = None
        self.problem = ""  # why the last read failed (the view keeps the one before)
        self.read_at = ""
        self.state = ViewState()

    # --- reading ------------------------------------------------------------------------------

    def refresh(self) -> bool:
        """Read the file again if it changed; True when there is something new to show."""
        if not self.probe.changed():
            return False
        try:
            self.snapshot = self.source.load(self.source.path)
            self.problem = ""
        except OrchdError as exc:
            self.problem = str(exc).splitlines()[0]
        self.read_at = utcnow().strftime("%H:%M:%S")
        return True

    def ended(self) -> bool:
        return self.snapshot is not None and self.snapshot.orchestrator.status in FINAL_RELEASE

    def header(self) -> str:
        pid = self.source.orchd_pid()
        who = f"orchd (pid {pid}) is running it" if pid is not None else "no orchd is running it"
        read = f"read {self.read_at} · " if self.read_at else ""
        text = f"watching {self.source.path}\n{read}{who}"
        if self.problem:
            text += f"\ncannot read it now (showing the last good read): {self.problem}"
        return text

    def view(self) -> RenderableType:
        return body(
            self.state,
            self.snapshot,
            utcnow(),
            parallel=self.source.parallel,
            estimates_h=self.source.estimates_h,
            options=self.source.options,
            waiting_for=(
                f"waiting for {self.source.path} to appear "
                f"(`orchd start {self.source.release_id}` writes it)"
            ),
        )

    # --- plain: piped output ------------------------------------------------------------------

    def run_plain(self, out: TextIO) -> StatusFile | None:
        """Print the report whenever the file changes, until the release ends."""
        console = Console(file=out, highlight=False)
        if not self.source.path.exists():
            console.print(self.view())
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                if self.refresh() and self.snapshot is not None and not self.ended():
                    console.print(self.view())
                    console.print()
                if self.ended():
                    break
                time.sleep(self.poll_s)
        return self.snapshot

    # --- interactive: a terminal --------------------------------------------------------------

    def run_terminal(self, keys: TextIO, out: TextIO) -> StatusFile | None:
        """Draw in place and follow keys until `q` or the release ends."""
        with _cbreak(keys), _alternate_screen(out):
            last_draw = 0.0
            fd = keys.fileno()
            try:
                while True:
                    dirty = self.refresh()
                    if self.ended():
                        break
                    if dirty or time.monotonic() - last_draw >= _REDRAW_S:
                        self.draw(out)
                        last_draw = time.monotonic()
                    ready, _, _ = select.select([fd], [], [], self.poll_s)
                    if not ready:
                        continue
                    data = os.read(fd, 1024).decode(errors="ignore")
                    if not data:
                        break  # the terminal went away
                    before = self.state
                    for key in split_keys(data):
                        state = on_key(self.state, key, self.snapshot)
                        if state is None:
                            return self.snapshot
                        self.state = state
                    if self.state != before:
                        self.draw(out)
                        last_draw = time.monotonic()
            except KeyboardInterrupt:
                return self.snapshot
        return self.snapshot

    def draw(self, out: TextIO) -> None:
        size = shutil.get_terminal_size()
        console = Console(
            file=out, width=size.columns, force_terminal=True, highlight=False, soft_wrap=False
        )
        tail = _lines(console, footer(self.state, self.header()))
        lines = _lines(console, Group(self.view()))
        room = max(size.lines - len(tail) - 1, 1)
        if len(lines) > room:
            hidden = len(lines) - room + 1
            lines = [*lines[: room - 1], f"… {hidden} more lines (see `orchd status`)"]
        frame = [*lines, "", *tail]
        out.write("\x1b[H" + "".join(f"{line}\x1b[K\r\n" for line in frame[:-1]))
        out.write(f"{frame[-1]}\x1b[K\x1b[J")
        out.flush()


def _lines(console: Console, renderable: RenderableType) -> list[str]:
    with console.capture() as captured:
        console.print(renderable)
    return captured.get().rstrip("\n").split("\n")


@contextlib.contextmanager
def _cbreak(keys: TextIO) -> Iterator[None]:
    """Keys arrive one at a time, unechoed; Ctrl-C still interrupts."""
    fd = keys.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def _alternate_screen(out: TextIO) -> Iterator[None]:
    """Draw on the alternate screen with the cursor hidden; the shell's screen comes back."""
    out.write("\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J")
    out.flush()
    try:
        yield
    finally:
        out.write("\x1b[?25h\x1b[?1049l")
        out.flush()
