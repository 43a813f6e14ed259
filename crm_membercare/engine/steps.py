"""The step list of one cycle: what runs, in which order. `sync --once` walks it; the Dagster graph has one step
per entry (docs/architecture.md).

    read_both_systems                every raw table and MemberCare's countries
    plan_<flow>, writeback_<flow>    per flow, after the writebacks of the flows it references

The order comes from the flows' dependencies (`Flow.depends_on`), sorted topologically and checked when the
list is built: a dependency on an unknown flow, or a circle of them, is an error at load, not a wait forever.
Among flows free to go, the declared order is kept, so the list is the same on every load.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter

from crm_membercare.mapping.flows import Flow

READ_STEP = "read_both_systems"


class FlowOrderError(ValueError):
    """The flows' dependencies cannot be ordered."""


@dataclass(frozen=True)
class ReadStep:
    """Both systems read since their cursors into the raw tables."""

    name: str = READ_STEP


@dataclass(frozen=True)
class FlowStep:
    flow: Flow
    action = ""

    @property
    def name(self) -> str:
        return f"{self.action}_{self.flow.name}"


@dataclass(frozen=True)
class PlanStep(FlowStep):
    """A flow's links matched and its linked pairs merged into the outbox."""

    action = "plan"


@dataclass(frozen=True)
class WritebackStep(FlowStep):
    """A flow's open operations applied to both systems."""

    action = "writeback"


Step = ReadStep | PlanStep | WritebackStep


def ordered_flows(flows: Iterable[Flow]) -> tuple[Flow, ...]:
    """The flows with every flow after those it depends on; the declared order among the rest."""
    flows = tuple(flows)
    by_name = {flow.name: flow for flow in flows}
    for flow in flows:
        unknown = [name for name in flow.depends_on if name not in by_name]
        if unknown:
            raise FlowOrderError(f"flow {flow.name} depends on {', '.join(unknown)}, which is not a flow "
                                 f"(known: {', '.join(by_name)})")
    sorter = TopologicalSorter({flow.name: flow.depends_on for flow in flows})
    try:
        sorter.prepare()
    except CycleError as error:
        raise FlowOrderError(f"flows depend on each other in a circle: {' -> '.join(error.args[1])}") from None
    ordered: list[Flow] = []
    while len(ordered) < len(flows):  # the first declared flow whose dependencies are all placed, each time
        placed = {flow.name for flow in ordered}
        ordered.append(next(f for f in flows if f.name not in placed and placed.issuperset(f.depends_on)))
    return tuple(ordered)


def step_list(flows: Iterable[Flow]) -> tuple[Step, ...]:
    """Read both systems, then plan and write back each flow in dependency order."""
    steps: list[Step] = [ReadStep()]
    for flow in ordered_flows(flows):
        steps += [PlanStep(flow), WritebackStep(flow)]
    return tuple(steps)


def dependents(flows: Iterable[Flow], blocked: str) -> set[str]:
    """The flows that depend on `blocked`, directly or through another flow."""
    flows = tuple(flows)
    found: set[str] = set()
    frontier = {blocked}
    while frontier:
        frontier = {f.name for f in flows if set(f.depends_on) & frontier and f.name not in found}
        found |= frontier
    return found
