"""Shared fixtures: each test gets its own sandbox servers on free loopback ports and its own temp files."""

from __future__ import annotations

import pytest

from crm_membercare.sandbox.serving import RunningServer, serve_in_thread


@pytest.fixture
def customcrm_server(tmp_path) -> RunningServer:
    from crm_membercare.sandbox.customcrm.app import create_app

    server = serve_in_thread(create_app(tmp_path / "customcrm.sqlite"))
    yield server
    server.stop()


@pytest.fixture
def membercare_server(tmp_path) -> RunningServer:
    from crm_membercare.sandbox.membercare.app import create_app

    server = serve_in_thread(create_app(tmp_path / "membercare.sqlite"))
    yield server
    server.stop()


@pytest.fixture
def world():
    """Both sandboxes and a state file, fresh for the test (modules with a world of their own override it)."""
    from crm_membercare_tests.engine_support import running_world

    with running_world() as fresh:
        yield fresh


@pytest.fixture
def users(world):
    """A user of each system, writing through its API as a person (or an attacker) would."""
    from crm_membercare_tests.engine_support import CRM_TOKEN, MC_API_KEY
    from crm_membercare_tests.hostile_support import CrmUser, McUser

    crm, mc = CrmUser(world.crm_server, CRM_TOKEN), McUser(world.mc_server, MC_API_KEY)
    yield crm, mc
    crm.close()
    mc.close()
