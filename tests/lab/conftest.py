"""The session-wide lab for tests/lab: skipped without root, Linux or dockerd, unless
DVH_LAB_REQUIRED=1 (CI), which turns the skip into a failure."""

from __future__ import annotations

import os
import re
import signal
import sys
from collections.abc import Iterator

import pytest

from lab import Lab, packages

from .helpers import Background, load_image, tool


def pytest_configure(config: pytest.Config) -> None:
    """Register the `variant` marker."""
    config.addinivalue_line(
        "markers", "variant(**kwargs): guest variant for a per-test lab machine"
    )


_LAB_TIMES: list[tuple[str, float]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "tests/lab/" in report.nodeid and report.when == "call":
        _LAB_TIMES.append((report.nodeid, report.duration))


def pytest_terminal_summary(terminalreporter) -> None:
    """The time each lab case took (the lab is where time goes; unit tests are milliseconds)."""
    if _LAB_TIMES:
        terminalreporter.section("lab cases (seconds)")
        for nodeid, seconds in _LAB_TIMES:
            terminalreporter.write_line(f"{seconds:7.2f}  {nodeid}")
        total = sum(seconds for _, seconds in _LAB_TIMES)
        terminalreporter.write_line(f"{total:7.2f}  in all ({len(_LAB_TIMES)} cases)")


def _missing() -> str | None:
    if not sys.platform.startswith("linux"):
        return "the lab needs Linux"
    if os.geteuid() != 0:
        return "the lab needs root"
    return packages.refusal() or None


@pytest.fixture(scope="session")
def lab() -> Lab:
    reason = _missing()
    if reason:
        if os.environ.get("DVH_LAB_REQUIRED") == "1":
            pytest.fail(f"DVH_LAB_REQUIRED=1 but {reason}")
        pytest.skip(reason)
    the_lab = Lab()
    the_lab.up()
    yield the_lab
    the_lab.down()


@pytest.fixture
def fresh(lab: Lab) -> Lab:
    """The lab with the VPN off, machine `default` running and no `docker` NAT rule (restored after)."""
    _reset(lab)
    yield lab
    _reset(lab)


def _reset(lab: Lab) -> None:
    lab.vpn_off()
    if lab.status()["machines"]["default"]["state"] != "running":
        lab.start_vm("default")
    lab.run_on_host(["VBoxManage", "controlvm", "default", "natpf1", "delete", "docker"])


@pytest.fixture
def machine(lab: Lab, request):
    """A new machine for one test (named after it; variant from the `variant` marker), removed
    afterwards with the VPN off."""
    marker = request.node.get_closest_marker("variant")
    prefix = request.module.__name__.rsplit(".", 1)[-1].replace("test_", "")[:3]
    name = f"{prefix}-" + re.sub(r"[^a-z0-9]", "", request.node.name.lower())[-20:]
    lab.vpn_off()
    lab.add_machine(name, **(marker.kwargs if marker else {}))
    yield name
    lab.vpn_off()
    lab.remove_machine(name)


@pytest.fixture
def fixed(lab: Lab, machine: str) -> Iterator[str]:
    """A machine `fix`ed behind the VPN, with the lab's image."""
    lab.vpn_on("drop")
    done = tool(lab, "fix", "--machine", machine)
    assert done.returncode == 0, done.stderr
    load_image(lab, machine)
    yield machine


@pytest.fixture
def watching(lab: Lab, fixed: str) -> Iterator[Background]:
    """ports.watch on the machine, past its first sync; Ctrl-C'ed at the end if still running."""
    watch = Background(lab, "ports.watch", "--machine", fixed)
    try:
        watch.wait_for("no container publishes a port NAT can reach: nothing to do")
        yield watch
    finally:
        if watch.proc.poll() is None:
            watch.proc.send_signal(signal.SIGINT)
            watch.finish()
