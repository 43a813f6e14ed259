"""`crm-membercare sandbox`: both servers seeded in their own processes, and gone again after Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

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
