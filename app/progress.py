"""The command line's progress bar for a procedure that runs a while (sync, provision, repair-upn,
user-source): source pages read, users read, writes applied of the writes planned, the measured
write rate, the ETA, and what the run waits for when it waits (a Retry-After, the on-demand
window).

The flow runs in this process (app/runner.py), so its figures come straight from the engine's hub
(tenantsync/progress.py), which the flow's observer feeds (flows/_cycle.py). The bar is drawn on
stderr, and only when stdout and stderr are terminals: ``--json``, a pipe or a file get the result
alone; so does ``--verbose``, whose log lines would tear the bar. It appears with the first figures
(a procedure that publishes none never shows one) and is gone when the run ends, before the result
is printed.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from tenantsync import progress
from tenantsync.progress import Snapshot, clock


class Bar:
    """The hub's sink (any thread may call it) and the live display it drives."""

    def __init__(self, console: Console, *, refresh_per_second: float = 4) -> None:
        self.console = console
        self.refresh = refresh_per_second
        self.snap: Snapshot | None = None
        self.seen = 0.0                        # when ``snap`` came (its elapsed time goes on)
        self.wait: tuple[str, float] = ("", 0.0)     # reason, until (monotonic)
        self.live: Live | None = None
        self.stopped = False
        self.lock = threading.Lock()           # the figures
        self.gate = threading.Lock()           # starting and stopping the display

    def __call__(self, snap: Snapshot) -> None:
        now = time.monotonic()
        with self.lock:
            if snap.label:
                self.snap, self.seen = snap, now
            if snap.wait:
                self.wait = (snap.wait, now + snap.wait_left_s)
            elif snap.label:
                self.wait = ("", 0.0)
        with self.gate:     # not under self.lock: Live renders at once, and render takes it
            if self.live is None and not self.stopped:
                self.live = Live(get_renderable=self.render, console=self.console, transient=True,
                                 refresh_per_second=self.refresh)
                self.live.start()

    def stop(self) -> None:
        with self.gate:
            live, self.live, self.stopped = self.live, None, True
            if live is not None:
                live.stop()

    def render(self) -> RenderableType:
        with self.lock:
            snap, seen, (reason, until) = self.snap, self.seen, self.wait
        now = time.monotonic()
        lines: list[RenderableType] = []
        if snap is not None:
            lines.append(self.bar_line(snap))
            detail = f"{snap.read_text()}; batch {snap.batches:,}"
            detail += f" of {snap.batches_total:,}" if snap.decided else ""
            detail += f"; {clock(snap.elapsed_s + (now - seen if snap.stage != 'done' else 0))} elapsed"
            if snap.stage == "approval":
                detail += "; waiting for an approval of the staged deletions"
            lines.append(Text(detail, style="dim"))
        if reason and until > now:
            lines.append(Text(f"waiting {until - now:.1f} s: {reason}", style="yellow"))
        return Group(*lines)

    @staticmethod
    def bar_line(snap: Snapshot) -> Table:
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(width=30, no_wrap=True)
        for _ in range(3):
            grid.add_column(no_wrap=True)
        title = " ".join(x for x in (snap.label, snap.kind) if x)
        if snap.decided or snap.stage == "done":
            bar = ProgressBar(total=max(snap.total, 1), completed=snap.applied if snap.total else 1, width=30)
        else:       # the total still grows: a pulse, not a share
            bar = ProgressBar(total=None, width=30, animation_time=time.monotonic())
        grid.add_row(Text(title, style="bold"), bar, Text(snap.writes_text()), Text(snap.rate_text(), style="dim"),
                     Text(snap.eta_text(), style="cyan"))
        return grid


def wanted(*, quiet: bool) -> bool:
    """A bar only on a terminal, and not under --json or --verbose (module doc)."""
    return not quiet and sys.stdout.isatty() and sys.stderr.isatty()


@contextmanager
def shown(console: Console, *, quiet: bool) -> Iterator[Bar | None]:
    """While inside, the figures of the runs in this process are drawn on ``console``."""
    if not wanted(quiet=quiet):
        yield None
        return
    bar = Bar(console)
    unsubscribe = progress.subscribe(bar)
    try:
        yield bar
    finally:
        unsubscribe()
        bar.stop()


__all__ = ["Bar", "shown", "wanted"]
