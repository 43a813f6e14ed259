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
