"""The fault storm: a seeded scenario of user operations and sync cycles under injected faults on both sides.

1. both sandboxes seeded small with overlap, one clean cycle;
2. faults on (5xx, lost responses, a rate limit, 5 s MemberCare tokens);
3. `cycles` rounds: user operations while no cycle runs, then a cycle on a thread while the actor keeps
   writing (CRM edits, creates and deletes on both sides), until `operations` operations were done;
4. faults off, `quiet_cycles` cycles, then the oracle.

The same seed gives the same operation sequence (timing still varies: the cycle runs on a thread).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from crm_membercare_tests.chaos.actor import UserActor
from crm_membercare_tests.chaos.history import WriteLog
from crm_membercare_tests.chaos.oracle import Findings, check
from crm_membercare_tests.engine_support import World

STORM_FAULTS = {"error_rate": 0.1, "lost_response_rate": 0.05, "rate_limit_per_s": 15, "token_ttl_s": 5}
NO_FAULTS = {"error_rate": 0.0, "lost_response_rate": 0.0, "rate_limit_per_s": None, "token_ttl_s": 900}
CI_SCALE = {"users": 4, "customers": 12, "contacts": 30, "products": 8, "orders": 10, "quotes": 5}
FULL_SCALE = {"users": 6, "customers": 24, "contacts": 60, "products": 14, "orders": 30, "quotes": 15}


@dataclass(frozen=True)
class StormConfig:
    seed: int
    operations: int
    cycles: int
    scale: dict[str, int]
    overlap: float = 0.3
    quiet_cycles: int = 3
    edit_new_during_cycle: bool = True
    faults: dict = field(default_factory=lambda: dict(STORM_FAULTS))


def storm_config(size: str, seed: int) -> StormConfig:
    if size == "full":
        return StormConfig(seed, operations=520, cycles=12, scale=FULL_SCALE)
    return StormConfig(seed, operations=140, cycles=5, scale=CI_SCALE)


@dataclass
class StormResult:
    config: StormConfig
    log: WriteLog
    findings: Findings
    faults: Counter[str]
    requests: int
    token_calls: int
    cycles: int
    failed_cycles: list[str]
    seconds: float


def run_storm(config: StormConfig, world: World) -> StormResult:
    started = time.monotonic()
    world.seed(config.seed, config.scale, config.overlap)
    world.cycle()
    log = WriteLog()
    actor = UserActor(world.crm_server.api_url, world.mc_server.api_url, config.seed, log,
                      edit_new_during_cycle=config.edit_new_during_cycle)
    for offset, admin in enumerate((world.crm_admin, world.mc_admin)):
        admin.faults(**config.faults, random_seed=config.seed + offset)
    world.clear_stats()
    failed: list[str] = []
    cycles = 0
    per_round = -(-config.operations // config.cycles)
    try:
        actor.refresh()
        actor.provoke_problems()
        actor.delete_in_every_flow()  # first: a credit needs a pair the actor left alone
        actor.edit_every_row()
        while cycles < config.cycles or log.total_operations < config.operations:
            actor.refresh()
            target = min(config.operations, log.total_operations + per_round)
            quiet_until = log.total_operations + per_round // 2
            while log.total_operations < min(quiet_until, target):
                actor.act()
            failed += _cycle_while_acting(world, actor, log, target)
            cycles += 1
            while log.total_operations < target:
                actor.act()
        stats = [world.crm_admin.stats(), world.mc_admin.stats()]
        for admin in (world.crm_admin, world.mc_admin):
            admin.faults(**NO_FAULTS)
        for _ in range(config.quiet_cycles):
            world.cycle()
            cycles += 1
    finally:
        actor.close()
    faults = Counter()
    for stat in stats:
        faults.update(stat["faults"])
    return StormResult(
        config, log, check(world, log), faults,
        requests=sum(n for stat in stats for n in stat["requests"].values()),
        token_calls=stats[1]["requests"].get("GET token", 0), cycles=cycles, failed_cycles=failed,
        seconds=time.monotonic() - started,
    )


def _cycle_while_acting(world: World, actor: UserActor, log: WriteLog, target: int) -> list[str]:
    """One cycle on a thread; the actor writes (CRM edits, creates, deletes) until it ends or `target`."""
    failure: list[str] = []

    def run() -> None:
        try:
            world.cycle()
        except Exception as error:  # a cycle that could not finish is a finding, not a crash of the test
            failure.append(f"{type(error).__name__}: {error}")

    thread = threading.Thread(target=run, name="storm-cycle")
    thread.start()
    while thread.is_alive() and log.total_operations < target:
        actor.act(during_cycle=True)
    thread.join()
    return failure
