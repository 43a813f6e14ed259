"""The HTTP floor: the requests a sync made, replayed by a minimal async httpx client against sandboxes in the
same seeded state.

The request list is recorded on the sandbox side (`servers.RequestRecorder`), so the engine's code and
clients stay untouched. The replay keeps at most `workers` requests in flight per system, sends them in the
order the sandboxes received them, and keeps the one dependency any client has: a list page is requested
only after the previous page of the same resource has come back (a keyset cursor is known only then).

`replay_reads` replays a read's GETs alone, two ways: one at a time in arrival order (the sequential floor),
and each resource's requests in their order with the resources side by side (the parallel floor).

`causal=True` replays stricter: a request waits for every request whose response the engine had received
before it sent that one. That floor keeps the engine's batching and phase barriers and removes only the
engine's own compute between requests; the difference between the two floors is what barriers cost.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx

API = "/api/v1/"


@dataclass(frozen=True)
class Recorded:
    system: str
    method: str
    path: str
    query: str
    headers: dict
    body: bytes | None
    status: int
    start: float
    end: float

    @property
    def resource(self) -> str:
        return self.path[len(API):].split("/")[0]

    @property
    def is_list_page(self) -> bool:
        parts = self.path[len(API):].strip("/").split("/")
        return self.method == "GET" and len(parts) == 1 and parts[0] != "token"


@dataclass(frozen=True)
class FloorRun:
    seconds: float
    requests: int
    status_mismatches: int  # replayed answers whose status differs from the engine's (ids assigned in another order)
    statuses: dict
    mismatch_kinds: dict  # "METHOD resource engine->replay" -> count, the most common ones


def load(recordings: dict[str, Path]) -> list[Recorded]:
    """Both systems' request lists, merged in arrival order (the clock is system-wide monotonic)."""
    requests = []
    for system, path in recordings.items():
        for line in path.read_text().splitlines():
            item = json.loads(line)
            body = base64.b64decode(item["body"]) if item["body"] else None
            requests.append(Recorded(system, item["method"], item["path"], item["query"], item["headers"], body,
                                     item["status"], item["start"], item["end"]))
    return sorted(requests, key=lambda r: r.start)


@dataclass(frozen=True)
class Occupancy:
    """How a recorded run used the servers: where the wall time went without a profiler's distortion."""

    span_s: float  # first arrival to last answer
    busy_s: float  # some request in flight at either server
    idle_s: float  # no request in flight anywhere: the client's own work (planning, DuckDB, Python)
    idle_in_long_gaps_s: float  # of which in gaps over one second (phases), the rest between batches
    mean_in_flight: float  # requests in flight on average while busy
    server_ms_by_call: dict  # "METHOD resource" -> [requests, mean server milliseconds]


def occupancy(requests: list[Recorded]) -> Occupancy:
    if not requests:
        return Occupancy(0.0, 0.0, 0.0, 0.0, 0.0, {})
    busy = long_gaps = 0.0
    start, end = requests[0].start, requests[0].end
    for request in requests[1:]:
        if request.start > end:
            busy += end - start
            long_gaps += request.start - end if request.start - end > 1.0 else 0.0
            start, end = request.start, request.end
        else:
            end = max(end, request.end)
    busy += end - start
    span = max(r.end for r in requests) - requests[0].start
    calls: dict[str, list] = {}
    for request in requests:
        entry = calls.setdefault(f"{request.method} {request.resource}", [0, 0.0])
        entry[0] += 1
        entry[1] += request.end - request.start
    by_call = {k: [n, round(1000 * t / n, 1)] for k, (n, t) in sorted(calls.items(), key=lambda kv: -kv[1][1])}
    service = sum(r.end - r.start for r in requests)
    return Occupancy(span, busy, span - busy, long_gaps, service / busy if busy else 0.0, by_call)


def replay(requests: list[Recorded], base_urls: dict[str, str], auth: dict[str, dict], *, workers: int = 8,
           causal: bool = False) -> FloorRun:
    return asyncio.run(_replay(requests, base_urls, auth, workers, causal))


async def _replay(requests, base_urls, auth, workers, causal) -> FloorRun:
    done = [asyncio.Event() for _ in requests]
    by_end = sorted(range(len(requests)), key=lambda i: requests[i].end)
    statuses: list[int] = [0] * len(requests)
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    clients = {system: httpx.AsyncClient(base_url=url, headers=auth[system], limits=limits, timeout=120)
               for system, url in base_urls.items()}

    async def send(index: int, request: Recorded, slots: asyncio.Semaphore) -> None:
        try:
            for _ in range(3):  # a loaded sandbox may drop a kept-alive connection: send again, like any client
                try:
                    response = await clients[request.system].request(
                        request.method, request.path, params=request.query or None, content=request.body,
                        headers=request.headers)
                    await response.aread()
                    statuses[index] = response.status_code
                    break
                except httpx.TransportError:
                    continue
        finally:
            slots.release()
            done[index].set()

    async def dispatch(system: str) -> None:
        slots = asyncio.Semaphore(workers)
        previous_page: dict[str, int] = {}
        waited = 0  # causal: how far along the engine's completion order this system has waited
        tasks = []
        for index, request in enumerate(requests):
            if request.system != system:
                continue
            if causal:
                while waited < len(by_end) and requests[by_end[waited]].end < request.start:
                    await done[by_end[waited]].wait()
                    waited += 1
            if request.is_list_page:
                if request.resource in previous_page:
                    await done[previous_page[request.resource]].wait()
                previous_page[request.resource] = index
            await slots.acquire()
            tasks.append(asyncio.create_task(send(index, request, slots)))
        await asyncio.gather(*tasks)

    return await _timed(requests, statuses, clients, *(dispatch(system) for system in base_urls))


async def _timed(requests: list[Recorded], statuses: list[int], clients: dict, *work) -> FloorRun:
    """Run the replay's coroutines, close the clients, and say how long it took and how the answers compare."""
    started = time.perf_counter()
    try:
        await asyncio.gather(*work)
    finally:
        for client in clients.values():
            await client.aclose()
    seconds = time.perf_counter() - started
    mismatches = Counter(f"{r.method} {r.resource} {r.status}->{status}"
                         for r, status in zip(requests, statuses, strict=True) if r.status != status)
    counts = Counter(f"{status // 100}xx" for status in statuses)
    return FloorRun(seconds, len(requests), sum(mismatches.values()), dict(counts), dict(mismatches.most_common(8)))


def replay_reads(requests: list[Recorded], base_urls: dict[str, str], auth: dict[str, dict], *,
                 side_by_side: bool, workers: int = 8) -> FloorRun:
    """The GETs of `requests`, one at a time in arrival order, or `side_by_side`: each (system, resource)'s in
    their order, the resources concurrently, at most `workers` in flight per system."""
    return asyncio.run(_replay_reads([r for r in requests if r.method == "GET"], base_urls, auth, side_by_side,
                                     workers))


async def _replay_reads(reads, base_urls, auth, side_by_side, workers) -> FloorRun:
    statuses: list[int] = [0] * len(reads)
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    clients = {system: httpx.AsyncClient(base_url=url, headers=auth[system], limits=limits, timeout=120)
               for system, url in base_urls.items()}
    slots = {system: asyncio.Semaphore(workers) for system in base_urls}

    async def chain(indices: list[int]) -> None:
        for index in indices:
            request = reads[index]
            async with slots[request.system]:
                response = await clients[request.system].get(request.path, params=request.query or None)
                await response.aread()
                statuses[index] = response.status_code

    chains: dict[tuple[str, str], list[int]] = {}
    for index, request in enumerate(reads):
        chains.setdefault((request.system, request.resource) if side_by_side else ("", ""), []).append(index)
    return await _timed(reads, statuses, clients, *(chain(indices) for indices in chains.values()))
