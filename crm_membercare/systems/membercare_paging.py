"""Reading MemberCare's changes without losing or repeating a record.

MemberCare pages by offset, computed per request, over records ordered by (lastChange, id): a record changed
between two page requests moves to the end and every record behind it shifts forward one place, so a reader
that simply asks for page 1, 2, 3... skips one record per change. `changedAfter` is exclusive, at second
precision, in local time whose autumn hour repeats.

The walker therefore asks for page 1 again and again, each time `changedAfter` one second before the last
record it saw: a fresh first page cannot be shifted under it. Records of that last second come back and are
recognised by (id, lastChange). When the rest fits on the query's second page, that page is read instead
(one request, no re-read). Only when a whole page brings nothing new (more records share one second
than fit on a page, or the repeated autumn hour sends it back an hour) does it step through further pages of
that one query. Positions can then shift under it: a record that reappears at a newer version, or a total
that shrinks, shows they did, and the stepped-through query is walked once more after the end is reached.
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
        self._totals: dict[str | None, int] = {}  # query -> its totalCount when last asked
        self._stepped: set[str | None] = set()  # queries whose pages beyond the first we stepped through
        self._suspect: set[str | None] = set()  # of those, the ones whose pages may have shifted under us
        self._prune_above = PRUNE_ABOVE

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

    def _get(self, query: str | None, page: int) -> dict:
        body = self._fetch(query, page)
        total = body.get("totalCount")
        if isinstance(total, int):
            if total < self._totals.get(query, total) and query in self._stepped:
                self._suspect.add(query)  # a hard delete shifted the pages we stepped through
            self._totals[query] = total
        return body

    def _pass(self, after: str | None) -> Iterator[tuple[list[dict], str | None]]:
        while True:
            body = self._get(after, 1)
            fresh, cursor = self._take(body)
            if fresh:
                yield fresh, cursor
            if body.get("nextPageUrl") is None:
                return
            if not fresh:
                # A full first page of records already seen: step through this query's pages.
                cursor = yield from self._step_through(after, first_page=2, anchor=cursor)
                if cursor is None:
                    return
            elif body.get("totalPages") == 2:
                # The rest fits on this query's second page: asking page 1 again from a second back would
                # re-read the last second's records and could need a third request. Stepped through, so a
                # shift under it is seen (and the query walked again) as above.
                yield from self._step_through(after, first_page=2, anchor=None)
                return
            after = step_back(cursor, 1)

    def _step_through(
        self, query: str | None, *, first_page: int, anchor: str | None
    ) -> Iterator[tuple[list[dict], str | None]]:
        """Pages of one query until one brings new records past `anchor` (None: to the end).

        Returns the last cursor when it stopped early, None when it reached the end.
        """
        page = first_page
        self._stepped.add(query)
        while True:
            body = self._get(query, page)
            fresh, cursor = self._take(body)
            if fresh:
                yield fresh, cursor
            if body.get("nextPageUrl") is None:
                return None
            if anchor is not None and fresh and cursor != anchor:
                return cursor
            page += 1

    def _take(self, body: dict) -> tuple[list[dict], str | None]:
        records = body.get("result") or []
        fresh = []
        for record in records:
            key, version = record[self._id_field], record["lastChange"]
            previous = self._yielded.get(key)
            if previous == version:
                continue
            if previous is not None:
                # It changed during the iteration and moved to the end: pages we stepped through shifted.
                self._suspect.update(self._stepped)
            self._yielded[key] = version
            fresh.append(record)
        if len(self._yielded) > self._prune_above and records:
            self._prune(records[-1]["lastChange"])
        return fresh, (records[-1]["lastChange"] if records else None)

    def _prune(self, cursor: str) -> None:
        """Forget records too old to be read again (two hours covers the repeated autumn hour)."""
        horizon = parse_local(step_back(cursor, 7200))
        self._yielded = {k: v for k, v in self._yielded.items() if parse_local(v) >= horizon}
        # Pruning costs a pass over what is kept: wait until that has doubled before the next one.
        self._prune_above = max(PRUNE_ABOVE, 2 * len(self._yielded))
