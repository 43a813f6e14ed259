"""Reading MemberCare's changes without losing or repeating a record.

MemberCare pages by offset, computed per request, over records ordered by (lastChange, id): a record changed
between two page requests moves to the end and every record behind it shifts forward one place, so a reader
that simply asks for page 1, 2, 3... skips one record per change. `changedAfter` is exclusive, at second
precision, in local time whose autumn hour repeats.

The walker therefore asks for page 1 again and again, each time `changedAfter` one second before the last
record it saw: a fresh first page cannot be shifted under it. Records of that last second come back and are
recognised by (id, lastChange). Only when a whole page brings nothing new (more records share one second
than fit on a page, or the repeated autumn hour sends it back an hour) does it step through further pages of
that one query; while it does, a record it passed that reappears at a newer version, or a total that
shrinks, shows that positions shifted, and the pages are walked once more after the end is reached.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from crm_membercare.systems.oslo_time import parse_local, step_back

FetchPage = Callable[[str | None, int], dict]
MAX_REWALKS = 3
PRUNE_ABOVE = 50_000


class ChangeWalker:
    def __init__(self, fetch: FetchPage, *, id_field: str) -> None:
        self._fetch = fetch
        self._id_field = id_field
        self._yielded: dict[object, str] = {}  # id -> lastChange already yielded
        self._walked: dict[object, str | None] = {}  # id -> the query whose later pages yielded it
        self._suspect: set[str | None] = set()  # queries whose pages may have shifted under us

    def walk(self, seen_through: str | None) -> Iterator[tuple[list[dict], str | None]]:
        """Yield (new records, cursor after them) until the end of the changes."""
        after = step_back(seen_through, 1) if seen_through else None
        yield from self._pass(after)
        for _ in range(MAX_REWALKS):
            if not self._suspect:
                return
            query = min(self._suspect, key=lambda q: "" if q is None else q)
            self._suspect = set()
            yield from self._step_through(query, first_page=1, anchor=None)

    def _pass(self, after: str | None) -> Iterator[tuple[list[dict], str | None]]:
        while True:
            body = self._fetch(after, 1)
            fresh, cursor = self._take(body)
            if cursor is not None:
                yield fresh, cursor
            if body.get("nextPageUrl") is None:
                return
            if not fresh:
                # A full first page of records already seen: step through this query's pages.
                cursor = yield from self._step_through(after, first_page=2, anchor=cursor)
                if cursor is None:
                    return
            after = step_back(cursor, 1)

    def _step_through(
        self, query: str | None, *, first_page: int, anchor: str | None
    ) -> Iterator[tuple[list[dict], str | None]]:
        """Pages of one query until one brings new records past `anchor` (None: to the end).

        Returns the last cursor when it stopped early, None when it reached the end.
        """
        page, total = first_page, None
        while True:
            body = self._fetch(query, page)
            if total is not None and body.get("totalCount", total) < total:
                self._suspect.add(query)  # a hard delete shifted the pages
            total = body.get("totalCount", total)
            fresh, cursor = self._take(body, walking=True, query=query)
            if cursor is not None:
                yield fresh, cursor
            if body.get("nextPageUrl") is None:
                return None
            if anchor is not None and fresh and cursor != anchor:
                return cursor
            page += 1

    def _take(
        self, body: dict, *, walking: bool = False, query: str | None = None
    ) -> tuple[list[dict], str | None]:
        records = body.get("result") or []
        fresh = []
        for record in records:
            key, version = record[self._id_field], record["lastChange"]
            previous = self._yielded.get(key)
            if previous == version:
                continue
            if previous is not None and key in self._walked:
                # It moved to the end after we stepped past it: the records behind it shifted forward.
                self._suspect.add(self._walked[key])
            self._yielded[key] = version
            if walking:
                self._walked[key] = query
            fresh.append(record)
        if len(self._yielded) > PRUNE_ABOVE and records:
            self._prune(records[-1]["lastChange"])
        return fresh, (records[-1]["lastChange"] if records else None)

    def _prune(self, cursor: str) -> None:
        """Forget records too old to be read again (two hours covers the repeated autumn hour)."""
        horizon = parse_local(step_back(cursor, 7200))
        self._yielded = {k: v for k, v in self._yielded.items() if parse_local(v) >= horizon}
