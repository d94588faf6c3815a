"""The pending queue as a virtualised table: only the lines on screen are ever rendered.

A `ScrollView` with `render_line` costs the same at 100 or 100k rows (textual-notes.md:
DataTable needs ~30 s to paint 100k rows, this kind of widget ~40 ms). Rows are core
`PendingThread`s, oldest first (sorted by `PendingThread.sort_key`), kept in a list the
owner replaces wholesale (`replace_rows`) or changes in place (`change_rows`: bisect
inserts and deletes, so a live refresh costs the same at 100 or 100k rows). Rows are
found by bisecting on the sort key, not through a per-row index: at 100k rows an id ->
position dict costs ~8 MB and ~50 ms to rebuild on every filter keystroke. The owner
may say how to find a thread's current version by id (`locate`). The cursor belongs to
a thread, not to a row index, so a live refresh that adds or removes rows above it
never moves the reviewer's selection.

Cells are built from `Segment`s of cleaned plain text (`inert.one_line`): a thread id
such as `[bold]x[/]` shows literally, and escape sequences never reach the terminal.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from console.core.models import PauseKind, PendingThread
from console.core.redact import Redactor
from console.core.views import safe_summary
from console.ui.ages import AgeBand, age_band, age_label, age_seconds
from console.ui.cell_text import fit, one_line
from console.ui.clock import Clock, utc_now
from console.ui.widgets.scrollbars import use_cell_scrollbars
from console.ui.widgets.typeahead import KeepsTypedAhead

ColumnName = Literal["flags", "age", "graph", "node", "kind", "summary", "thread"]

# Compact labels for the kind/convention column: the convention says how to answer an
# inline interrupt; a breakpoint has no payload, so its kind is what matters.
_KIND_LABELS = {
    "langchain-hitl": "hitl",
    "agent-inbox": "inbox",
    "tool-approval": "tool",
    "schema": "schema",
    "raw": "raw",
}


def kind_cell(thread: PendingThread) -> str:
    """`hitl`/`inbox`/`tool`/`schema`/`raw` for interrupts, `before`/`after`/`stalled`
    otherwise."""
    if thread.kind is PauseKind.INTERRUPT:
        return _KIND_LABELS.get(thread.convention.value, thread.convention.value)
    return thread.kind.value


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its title, its natural width bounds and how its text is cut."""

    name: ColumnName
    title: str
    minimum: int
    maximum: int
    middle_cut: bool = False  # ids differ at both ends


COLUMNS: tuple[Column, ...] = (
    Column("flags", "", 2, 2),  # mark (`*`, `?` stale) and open decision (`~`, `q`)
    Column("age", "AGE", 4, 4),
    Column("graph", "GRAPH", 6, 20),
    Column("node", "NODE", 6, 24),
    Column("kind", "KIND", 4, 7),
    Column("summary", "SUMMARY", 22, 10_000),  # at 80 columns, the one that reads as prose
    Column("thread", "THREAD", 10, 36, middle_cut=True),
)
GAP = 1  # blank cells between columns
SUMMARY_CACHE = 4096
SUMMARY_SHARE = 0.3  # the summary never gets less than this share of a wide table
WIDE_TABLE = 90  # (below this width every cell counts: ids first, then prose)
NAME_FLOOR = 14  # graph and node names keep this much before the summary gives way
SUMMARY_FLOOR = 12  # the summary keeps this much before names are cut further
# A longer id (a UUID: 36) gives way to this width before the summary does: cut in the
# middle it keeps about 12 cells of each end, where generated ids differ; the demo's
# longest ids (`map_reduce-partial-0001`) stay whole.
ID_FLOOR = 24


def layout_columns(width: int, natural: dict[ColumnName, int]) -> list[int]:
    """Column widths for a table `width` cells wide.

    Every column gets its natural width (the widest value, within its bounds), the
    summary at least 22 cells (on tables 90 cells or wider, 30% of the width). When that
    does not fit, columns give way in this order: graph, node and kind (widest first)
    down to 14 cells, a thread id longer than 24 cells down to 24 (cut in the middle),
    the summary down to 12, the names down to their minimum, the rest of the summary,
    and only then the thread id further. The id is what a reviewer acts on: at 80
    columns `hitl_agent-0020` and `hitl_agent_js-0020` are both shown whole, and the
    prose is cut instead; a UUID keeps both its ends (`49d3207a-9…-e455473f54c5`), which
    is where such ids differ, and leaves the summary and names room to be read.
    """
    wanted = [max(c.minimum, min(c.maximum, natural.get(c.name, c.minimum))) for c in COLUMNS]
    index = {c.name: i for i, c in enumerate(COLUMNS)}
    summary = index["summary"]
    wanted[summary] = COLUMNS[summary].minimum
    if width >= WIDE_TABLE:
        wanted[summary] = max(wanted[summary], int(width * SUMMARY_SHARE))
    names = [index["graph"], index["node"], index["kind"]]
    gaps = GAP * (len(COLUMNS) - 1)

    def give_way(columns: list[int], floor: int) -> None:
        while sum(wanted) + gaps > width:
            shrinkable = [i for i in columns if wanted[i] > floor and (
                i == summary or wanted[i] > COLUMNS[i].minimum)]
            if not shrinkable:
                return
            wanted[max(shrinkable, key=lambda i: wanted[i])] -= 1

    give_way(names, NAME_FLOOR)
    give_way([index["thread"]], ID_FLOOR)
    give_way([summary], SUMMARY_FLOOR)
    give_way(names, 0)
    give_way([summary], 0)
    give_way([index["thread"]], 0)
    wanted[summary] = max(0, width - gaps - sum(w for i, w in enumerate(wanted) if i != summary))
    return wanted


class QueueTable(ScrollView, KeepsTypedAhead, can_focus=True):
    """Pending threads, oldest first; line 0 is a fixed header, the rest scroll."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j,down", "cursor_down", "Down", show=False, id="queue.down"),
        Binding("k,up", "cursor_up", "Up", show=False, id="queue.up"),
        Binding("g,home", "first", "First", show=False, id="queue.first"),
        Binding("G,end", "last", "Last", show=False, id="queue.last"),
        Binding("pagedown,ctrl+f", "page_down", "Page down", show=False, id="queue.page_down"),
        Binding("pageup,ctrl+b", "page_up", "Page up", show=False, id="queue.page_up"),
        Binding("enter", "open", "Open the thread (the detail, full height on small screens)",
                key_display="enter", show=False, id="queue.open"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "queue-table--header",
        "queue-table--cursor",
        "queue-table--age-ok",
        "queue-table--age-warn",
        "queue-table--age-over",
        "queue-table--empty",
        "queue-table--marked",
    }

    class Highlighted(Message):
        """The pause under the cursor changed (another thread, a new checkpoint of it, or
        another set of pending interrupts on the same checkpoint)."""

        def __init__(self, table: QueueTable, thread: PendingThread | None) -> None:
            super().__init__()
            self.table = table
            self.thread = thread

        @property
        def control(self) -> QueueTable:
            return self.table

    class Opened(Message):
        """The reviewer pressed enter on a thread."""

        def __init__(self, table: QueueTable, thread: PendingThread) -> None:
            super().__init__()
            self.table = table
            self.thread = thread

        @property
        def control(self) -> QueueTable:
            return self.table

    def __init__(
        self,
        *,
        clock: Clock = utc_now,
        sla_seconds: float = 3600.0,
        redactor: Redactor | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """`redactor` hides credentials in summaries and ids (default rules if None)."""
        super().__init__(name=name, id=id, classes=classes)
        self._clock = clock
        self.sla_seconds = sla_seconds
        self._redactor = redactor if redactor is not None else Redactor()
        self._rows: list[PendingThread] = []
        self._natural: dict[ColumnName, int] = {}
        self._widths: tuple[int, tuple[int, ...], list[int]] | None = None  # width, natural
        self._cursor = 0
        self._announced: tuple[str, str, tuple[str, ...]] | None = None
        self.empty_text = "Loading..."
        self.render_count = 0  # lines rendered since mount: proves the table is virtual
        # The owner says what each row is flagged with (two cells: mark, decision).
        self._summaries: dict[tuple[str, str], str] = {}
        self.flags: Callable[[PendingThread], str] = lambda thread: ""
        # The owner's lookup of a thread's current version by id (else rows are scanned).
        self.locate: Callable[[str], PendingThread | None] | None = None
        self.generation = 0  # bumped whenever the rows change: lets probes see a change
        self._scroll_geometry: tuple[Size, Size, Size] | None = None

    # --- data -----------------------------------------------------------------------

    @property
    def rows(self) -> Sequence[PendingThread]:
        """The rows shown, in order (do not mutate: use `replace_rows`/`update_row`)."""
        return self._rows

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def cursor_row(self) -> int:
        """Index of the highlighted row (0 when the table is empty)."""
        return self._cursor

    @property
    def selected(self) -> PendingThread | None:
        """The highlighted thread, if any."""
        return self._rows[self._cursor] if self._rows else None

    def replace_rows(
        self,
        rows: Sequence[PendingThread],
        *,
        empty_text: str | None = None,
        measure: bool = True,
    ) -> None:
        """Show `rows` (sorted oldest first) instead of the current ones, keeping the
        cursor on its thread.

        If the highlighted thread is gone, the cursor stays where it would be (the next
        thread moves up under it), and the cursor keeps its line on screen so the view
        does not jump under the reviewer's eyes. `measure=False` keeps the column widths
        (the owner measured a superset with `measure`, e.g. before filtering it).
        """
        repaint = empty_text is not None and empty_text != self.empty_text
        if empty_text is not None:
            self.empty_text = empty_text
        previous = self.selected
        top = round(self.scroll_y)
        screen_line = self._cursor - top
        before = self._rows[top:top + self._page]
        self._rows = list(rows)
        if measure:
            self.measure(self._rows)
        self._cursor = self._cursor_after(previous)
        self._rows_changed(screen_line, repaint=repaint or not self._shows(before, top))

    def change_rows(
        self, removed: Iterable[PendingThread] = (), added: Iterable[PendingThread] = ()
    ) -> None:
        """Take `removed` rows out and put `added` ones in, each by bisection: a live
        refresh of a few threads costs the same at any queue size. A new version of a
        shown thread is one of each. Lines are repainted only if what is on screen moved.
        """
        previous = self.selected
        top = round(self.scroll_y)
        screen_line = self._cursor - top
        before = self._rows[top:top + self._page]
        for thread in removed:
            index = self._find(thread)
            if index is not None:
                del self._rows[index]
        for thread in added:
            self._rows.insert(bisect_left(self._rows, thread.sort_key(),
                                          key=PendingThread.sort_key), thread)
            self._widen(thread)
        self._cursor = self._cursor_after(previous)
        self._rows_changed(screen_line, repaint=not self._shows(before, top))

    def _shows(self, rows: Sequence[PendingThread], top: int) -> bool:
        # Whether the screenful from `top` still holds these very rows (then a filter
        # keystroke or a refresh that changed nothing visible repaints nothing).
        after = self._rows[top:top + self._page]
        return bool(rows) and len(rows) == len(after) and all(
            a is b for a, b in zip(rows, after, strict=True))

    def _cursor_after(self, previous: PendingThread | None) -> int:
        """Where the cursor goes once the rows changed: on its thread (its current
        version, if the owner can say), else on the row that took its place."""
        if previous is None or not self._rows:
            return max(0, min(self._cursor, len(self._rows) - 1))
        if (index := self._find(previous)) is not None:
            return index
        current = self.locate(previous.thread_id) if self.locate is not None else None
        if current is not None and (index := self._find(current)) is not None:
            return index
        if self.locate is None and (index := self._scan(previous.thread_id)) is not None:
            return index
        place = bisect_left(self._rows, previous.sort_key(), key=PendingThread.sort_key)
        return min(place, len(self._rows) - 1)

    def _rows_changed(self, screen_line: int, *, repaint: bool) -> None:
        self.generation += 1
        self._sync_virtual_size()
        top = round(self.scroll_y)
        self.scroll_to(y=max(0, self._cursor - screen_line), animate=False)
        self._keep_cursor_visible()
        if repaint or round(self.scroll_y) != top:
            self.refresh()
        self._announce()

    def update_row(self, thread: PendingThread) -> bool:
        """Replace one thread's row (a new version of it); False if it is not shown."""
        index = self.position(thread.thread_id)
        if index is None:
            return False
        if self._rows[index].sort_key() != thread.sort_key():
            self.change_rows([self._rows[index]], [thread])
            return True
        self._rows[index] = thread
        self.generation += 1
        self.refresh_line(index + 1)
        if index == self._cursor:
            self._announce()
        return True

    def refresh_rows(self, thread_ids: Sequence[str] | None = None) -> None:
        """Repaint some rows (their flags changed), or all of them."""
        if thread_ids is None:
            self.refresh()
            return
        for thread_id in thread_ids:
            index = self.position(thread_id)
            if index is not None:
                self.refresh_line(index + 1)

    def position(self, thread_id: str) -> int | None:
        """The row index of a thread, if shown."""
        if self.locate is None:
            return self._scan(thread_id)
        thread = self.locate(thread_id)
        return None if thread is None else self._find(thread)

    def _find(self, thread: PendingThread) -> int | None:
        """The row of `thread` (by its sort key, so this version of it), if shown."""
        index = bisect_left(self._rows, thread.sort_key(), key=PendingThread.sort_key)
        if index < len(self._rows) and self._rows[index].thread_id == thread.thread_id:
            return index
        return None

    def _scan(self, thread_id: str) -> int | None:
        # Without the owner's lookup (a table used on its own): the rows one by one.
        return next((i for i, row in enumerate(self._rows) if row.thread_id == thread_id), None)

    def select_thread(self, thread_id: str) -> bool:
        """Move the cursor to a thread; False if it is not shown."""
        index = self.position(thread_id)
        if index is None:
            return False
        self._move_to(index)
        return True

    def measure(self, rows: Sequence[PendingThread]) -> None:
        """Set the columns' natural widths from `rows` (all that may be shown)."""
        self._natural = self._measure(rows)
        self._widths = None
        self.refresh()

    def _widen(self, thread: PendingThread) -> None:
        # A thread added in place: its cells may need wider columns than measured.
        wider = self._measure([thread])
        if any(wider[name] > self._natural.get(name, 0) for name in wider):
            self._natural = {name: max(wider[name], self._natural.get(name, 0))
                             for name in wider}
            self._widths = None
            self.refresh()

    @staticmethod
    def _measure(rows: Sequence[PendingThread]) -> dict[ColumnName, int]:
        # Graphs, nodes and kinds repeat, so measure their distinct values; thread ids
        # are unique but cheap to take the length of (~10 ms for 100k rows).
        graphs = {row.graph for row in rows}
        nodes = {row.nodes for row in rows}
        kinds = {kind_cell(row) for row in {(r.kind, r.convention): r for r in rows}.values()}
        return {
            "graph": max((len(g or "?") for g in graphs), default=0),
            "node": max((len(",".join(n)) for n in nodes), default=0),
            "kind": max((len(k) for k in kinds), default=0),
            "thread": max((len(row.thread_id) for row in rows), default=0),
        }

    def _sync_virtual_size(self) -> None:
        # Width follows the widget: columns shrink to fit rather than scroll sideways.
        self.virtual_size = Size(self.scrollable_content_region.width, len(self._rows) + 1)

    def on_mount(self) -> None:
        use_cell_scrollbars(self)

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        # Textual's ScrollView compares the compositor's arranged size with our virtual
        # size, which never match for a line-API widget, so every layout of the screen
        # (a detail pane update, a footer change) redrew this table's scrollbar: ~730 B
        # per cursor move at 80x24. Only a change of what the scrollbar shows matters.
        geometry = (size, self.virtual_size, container_size)
        if geometry == self._scroll_geometry:
            return False
        self._scroll_geometry = geometry
        return super()._size_updated(size, virtual_size, container_size, layout)

    def on_resize(self, event: events.Resize) -> None:
        self._sync_virtual_size()
        self._keep_cursor_visible()

    # --- cursor ---------------------------------------------------------------------

    @property
    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _move_to(self, index: int) -> None:
        if not self._rows:
            return
        index = max(0, min(index, len(self._rows) - 1))
        if index == self._cursor:
            return
        old = self._cursor
        self._cursor = index
        # Repaint just the two rows involved: on a slow link every line counts.
        self.refresh_line(old + 1)
        self.refresh_line(index + 1)
        self._keep_cursor_visible()
        self._announce()

    def _keep_cursor_visible(self) -> None:
        top = round(self.scroll_y)
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False)
        elif self._cursor > top + self._page - 1:
            self.scroll_to(y=self._cursor - self._page + 1, animate=False)

    def _announce(self) -> None:
        thread = self.selected
        # The interrupt ids count too: answering one of two parallel interrupts by id
        # adds writes to the same head checkpoint, and the pause is then another one.
        key = (thread.thread_id, thread.checkpoint_id, thread.interrupt_ids) if thread else None
        if key != self._announced:
            self._announced = key
            self.post_message(self.Highlighted(self, thread))

    def action_cursor_down(self) -> None:
        self._move_to(self._cursor + 1)

    def action_cursor_up(self) -> None:
        self._move_to(self._cursor - 1)

    def action_first(self) -> None:
        self._move_to(0)

    def action_last(self) -> None:
        self._move_to(len(self._rows) - 1)

    def action_page_down(self) -> None:
        self.scroll_to(y=self.scroll_y + self._page, animate=False)
        self._move_to(self._cursor + self._page)

    def action_page_up(self) -> None:
        self.scroll_to(y=max(0, self.scroll_y - self._page), animate=False)
        self._move_to(self._cursor - self._page)

    def action_open(self) -> None:
        if (thread := self.selected) is not None:
            self.post_message(self.Opened(self, thread))

    def on_focus(self, event: events.Focus) -> None:
        self.refresh()  # header and cursor styles differ with focus

    def on_blur(self, event: events.Blur) -> None:
        self.refresh()

    # --- rendering ------------------------------------------------------------------

    def refresh_line(self, y: int) -> None:
        """Repaint virtual line `y` (0 is the header, which never scrolls)."""
        if y == 0:
            self.refresh(Region(0, 0, self.size.width, 1))
            return
        super().refresh_line(y)

    def render_line(self, y: int) -> Strip:
        self.render_count += 1
        width = self.scrollable_content_region.width
        base = self.rich_style
        widths = self._column_widths(width)
        if y == 0:
            return self._header(widths, base)
        index = round(self.scroll_y) + y - 1
        if not self._rows:
            if y == 1:
                style = base + self.get_component_rich_style("queue-table--empty")
                return Strip([Segment(fit(self.empty_text, width).ljust(width), style)])
            return Strip.blank(width, base)
        if index >= len(self._rows):
            return Strip.blank(width, base)
        return self._row(self._rows[index], index == self._cursor, widths, base)

    def _column_widths(self, width: int) -> list[int]:
        # Once per width and measure, not once per rendered line.
        natural = tuple(self._natural.get(c.name, 0) for c in COLUMNS)
        if self._widths is None or self._widths[:2] != (width, natural):
            self._widths = (width, natural, layout_columns(width, self._natural))
        return self._widths[2]

    def _summary(self, thread: PendingThread) -> str:
        # Rebuilt from the redacted payload (the stored summary saw raw values); cached
        # by pause, since a repaint of the visible rows should not redo the work.
        key = (thread.thread_id, thread.checkpoint_id)
        text = self._summaries.get(key)
        if text is None:
            if len(self._summaries) >= SUMMARY_CACHE:
                self._summaries.clear()
            text = self._summaries[key] = one_line(safe_summary(thread, self._redactor))
        return text

    def _header(self, widths: list[int], base: Style) -> Strip:
        style = base + self.get_component_rich_style("queue-table--header")
        cells = [
            _pad(c.title, w, right=c.name == "age") for c, w in zip(COLUMNS, widths, strict=True)
        ]
        return Strip([Segment((" " * GAP).join(cells), style)]).adjust_cell_length(
            self.scrollable_content_region.width, style
        )

    def _row(self, thread: PendingThread, is_cursor: bool, widths: list[int], base: Style) -> Strip:
        seconds = age_seconds(thread.paused_at, self._clock())
        band = age_band(seconds, self.sla_seconds)
        flags = self.flags(thread)
        values: dict[ColumnName, str] = {
            "flags": flags,
            "age": age_label(seconds, band),
            "graph": one_line(thread.graph or "?"),
            "node": one_line(",".join(thread.nodes)),
            "kind": kind_cell(thread),
            "summary": self._summary(thread),
            "thread": one_line(thread.thread_id),
        }
        row_style = base
        if flags[:1] in ("*", "?"):
            row_style = row_style + self.get_component_rich_style("queue-table--marked")
        if is_cursor:
            row_style = row_style + self.get_component_rich_style("queue-table--cursor")
        age_style = self.get_component_rich_style(f"queue-table--age-{band.value}")
        segments: list[Segment] = []
        for number, (column, width) in enumerate(zip(COLUMNS, widths, strict=True)):
            if number:
                segments.append(Segment(" " * GAP, row_style))
            text = fit(values[column.name], width, middle=column.middle_cut)
            cell = _pad(text, width, right=column.name == "age")
            if column.name == "age" and (band is not AgeBand.OK or not is_cursor):
                # On the cursor row an OK age takes the cursor colours; a late one keeps
                # its warning colour so a breach stays visible wherever the cursor is.
                segments.append(Segment(cell, row_style + age_style))
            else:
                segments.append(Segment(cell, row_style))
        # One segment per run of one style: each style change costs escape sequences
        # on the wire, and a row is 13 cells-and-gaps of mostly the same style.
        return Strip(Segment.simplify(segments)).adjust_cell_length(
            self.scrollable_content_region.width, row_style)


def _pad(text: str, width: int, *, right: bool = False) -> str:
    gap = max(0, width - cell_len(text))
    return " " * gap + text if right else text + " " * gap
