"""`crm-membercare sandbox`: both servers seeded in their own processes, and gone again after Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from crm_membercare.sandbox.serving import free_port


def answers(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/_sandbox/faults", timeout=1)
        return True
    except httpx.HTTPError:
        return False


def test_sandbox_command_seeds_both_and_stops_cleanly(tmp_path):
    crm_port, mc_port = free_port(), free_port()
    command = [sys.executable, "-m", "crm_membercare.cli", "sandbox", "--data-dir", str(tmp_path),
               "--crm-port", str(crm_port), "--membercare-port", str(mc_port),
               "--seed", "3", "--scale", "small", "--overlap", "0.3", "--reset"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        lines = [process.stdout.readline() for _ in range(2)]
        assert all("seeded" in line for line in lines), lines
        contacts = httpx.get(f"http://127.0.0.1:{crm_port}/api/v1/contacts", params={"limit": 1},
                             headers={"Authorization": "Bearer sandbox-crm-token"}).json()["data"]
        token = httpx.get(f"http://127.0.0.1:{mc_port}/api/v1/token",
                          params={"clientApiKey": "sandbox-membercare-key"}).json()["value"]
        persons = httpx.get(f"http://127.0.0.1:{mc_port}/api/v1/persons", params={"pageSize": 1},
                            headers={"token": token}).json()["totalCount"]
        assert contacts and persons == 300
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    deadline = time.monotonic() + 15
    while answers(crm_port) or answers(mc_port):
        assert time.monotonic() < deadline, "a sandbox server outlived the command"
        time.sleep(0.2)


def _wait_until(condition, timeout_s: float, message: str) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout_s, message
        time.sleep(0.1)
    return time.monotonic() - started


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_or_sighup_stops_both_servers_like_ctrl_c(tmp_path, signal_number):
    """Issue 12, item 12: a service manager stops the command with SIGTERM (a closed terminal sends SIGHUP)."""
    crm_port, mc_port = free_port(), free_port()
    command = [sys.executable, "-m", "crm_membercare.cli", "sandbox", "--data-dir", str(tmp_path),
               "--crm-port", str(crm_port), "--membercare-port", str(mc_port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [process.stdout.readline() for _ in range(2)]  # printed once both answer
        assert all("sandbox: http://127.0.0.1:" in line for line in lines), lines
        assert answers(crm_port) and answers(mc_port)
        process.send_signal(signal_number)
        _wait_until(lambda: not answers(crm_port) and not answers(mc_port), 5, "a sandbox server outlived it")
        assert process.wait(timeout=10) == 0
        assert "Traceback" not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()


def test_sigterm_while_seeding_stops_both_servers_without_waiting_for_the_seed(tmp_path):
    crm_port, mc_port = free_port(), free_port()
    command = [sys.executable, "-m", "crm_membercare.cli", "sandbox", "--data-dir", str(tmp_path),
               "--crm-port", str(crm_port), "--membercare-port", str(mc_port), "--seed", "1", "--scale", "medium"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_until(lambda: answers(crm_port) and answers(mc_port), 60, "the sandboxes did not start")
        time.sleep(0.5)  # the command has started seeding (medium takes far longer than this test)
        assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        _wait_until(lambda: not answers(crm_port) and not answers(mc_port), 5, "a sandbox server outlived it")
        assert process.wait(timeout=10) in (0, 130)
    finally:
        if process.poll() is None:
            process.kill()


def test_the_servers_die_with_the_command_even_when_it_is_killed(tmp_path):
    """SIGKILL leaves no cleanup to run: the kernel stops the servers (Linux's parent-death signal)."""
    crm_port, mc_port = free_port(), free_port()
    command = [sys.executable, "-m", "crm_membercare.cli", "sandbox", "--data-dir", str(tmp_path),
               "--crm-port", str(crm_port), "--membercare-port", str(mc_port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [process.stdout.readline() for _ in range(2)]
        assert all("sandbox: http://127.0.0.1:" in line for line in lines), lines
        process.kill()
        process.wait(timeout=10)
        _wait_until(lambda: not answers(crm_port) and not answers(mc_port), 5, "a sandbox server outlived it")
    finally:
        if process.poll() is None:
            process.kill()


def test_ctrl_c_stops_it_even_when_started_with_sigint_ignored(tmp_path):
    """A shell without job control starts background commands with SIGINT ignored (so do some test runners)."""
    crm_port, mc_port = free_port(), free_port()
    command = [sys.executable, "-m", "crm_membercare.cli", "sandbox", "--data-dir", str(tmp_path),
               "--crm-port", str(crm_port), "--membercare-port", str(mc_port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        lines = [process.stdout.readline() for _ in range(2)]
        assert all("sandbox: http://127.0.0.1:" in line for line in lines), lines
        process.send_signal(signal.SIGINT)
        _wait_until(lambda: not answers(crm_port) and not answers(mc_port), 5, "a sandbox server outlived it")
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
