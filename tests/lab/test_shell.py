"""lab.shell, lab.exec and lab.image: commands on the lab's Mac as the lab runs them (issue 17,
item 7; issue 21, items 6 and 10)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lab import Lab
from lab.image import PAGE
from lab.paths import NS_PREFIX

from .helpers import lab_task, tool

pytestmark = pytest.mark.lab


def test_exec_runs_a_command_on_the_mac_with_the_labs_environment(lab: Lab):
    script = (
        'echo "$MACHINE_STORAGE_PATH|$HOME|$DVH_LAB_DIR|$DVH_LAB_NS"; '
        "ip -o -4 addr show vboxnet0 | grep -c 192.168.99.1/24; "
        "command -v VBoxManage; command -v docker-vpn-helper; exit 7"
    )
    done = lab_task(lab, "lab.exec", "--", "sh", "-c", script)
    assert done.returncode == 7, done.stderr
    lines = done.stdout.splitlines()
    root = lab.paths.root
    assert lines[0] == f"{root}/store|{root}/home|{root}|{NS_PREFIX}"
    assert lines[1] == "1"  # the Mac's host-only bridge: we are in its namespace
    assert lines[2] == f"{root}/bin/VBoxManage"
    assert lines[3] == str(Path(sys.executable).parent / "docker-vpn-helper")


def test_exec_keeps_the_words_after_the_double_dash_as_typed(lab: Lab):
    done = lab_task(lab, "lab.exec", "--", "printf", "[%s]", "two words", "$HOME", "")
    assert done.returncode == 0 and done.stdout == "[two words][$HOME][]"


def test_a_plain_fix_works_on_the_mac(lab: Lab):
    done = lab_task(lab, "lab.exec", "--", "docker-vpn-helper", "env.print", "--shell", "sh")
    assert done.returncode == 0, done.stderr
    assert f'export DOCKER_CERT_PATH="{lab.paths.store}/machines/default"' in done.stdout


def test_shell_reads_commands_on_the_mac(lab: Lab):
    done = lab_task(lab, "lab.shell", stdin='echo "on the Mac: $MACHINE_STORAGE_PATH"\nexit 3\n')
    assert done.returncode == 3
    assert f"on the Mac: {lab.paths.store}" in done.stdout


def test_fix_creates_a_second_machine_in_the_shell(lab: Lab):
    # kexts.restart runs before a create: on the lab's Mac it is the lab's stand-in for
    # VirtualBoxStartup.sh (it was `systemctl restart vboxdrv`: "Failed to connect to bus").
    name = "sh-second"
    lab.vpn_off()
    lab.paths.kext_log.unlink(missing_ok=True)
    try:
        done = lab_task(
            lab,
            "lab.shell",
            stdin=f"docker-vpn-helper fix --machine {name} --create\n",
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        assert f"created '{name}'" in done.stderr
        assert lab.paths.kext_log.read_text() == "restart\n"
        assert lab.status()["machines"][name]["state"] == "running"
    finally:
        lab.remove_machine(name)


def test_the_kext_stand_in_says_what_the_real_script_says(lab: Lab):
    script = f"{lab.paths.bin}/VirtualBoxStartup.sh"
    done = lab_task(lab, "lab.exec", "--", script, "restart")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "Unloading VBoxUSB.kext"
    assert done.stdout.splitlines()[-1] == "Loading VBoxNetAdp.kext"
    wrong = lab_task(lab, "lab.exec", "--", script, "reload")
    assert wrong.returncode == 1 and "Usage:" in wrong.stderr


def test_image_prints_a_run_line_whose_port_answers_on_the_mac(lab: Lab):
    done = lab_task(lab, "lab.image", "--port", "18090", timeout=300)
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip()
    assert line == "docker run -d --init -p 18090:18090 bb:lab /bin/httpd -f -p 18090 -h /www"
    script = (
        'eval "$(docker-vpn-helper fix)"\n'
        f"id=$({line})\n"
        "docker-vpn-helper ports.sync >/dev/null 2>&1\n"
        "curl -sS --retry 10 --retry-connrefused --retry-delay 1 http://127.0.0.1:18090/\n"
        'docker rm -f "$id" >/dev/null; docker-vpn-helper ports.sync 2>/dev/null\n'
    )
    lab.vpn_on("drop")
    try:
        ran = lab_task(lab, "lab.shell", stdin=script, timeout=300)
    finally:
        lab.vpn_off()
    assert ran.stdout.endswith(PAGE), ran.stderr


def test_without_the_labs_kext_command_the_failure_names_the_setting(lab: Lab):
    # Linux's default, `systemctl restart vboxdrv`, cannot work on the lab's Mac (it said only
    # "Failed to connect to bus: Host is down"): the line names what replaces it.
    lab.vpn_off()
    env = {k: v for k, v in lab.host_env().items() if k != "INVOKE_VPNHELPER_KEXT_COMMAND"}
    done = tool(lab, "fix", "--machine", "sh-nodrivers", "--create", env=env)
    assert done.returncode == 1
    assert "sh-nodrivers" not in lab.status()["machines"]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("docker-vpn-helper: restarting VirtualBox's drivers failed: ")
    assert last.endswith(
        "; to restart them another way, set vpnhelper.kext_command (or "
        "INVOKE_VPNHELPER_KEXT_COMMAND) to that command, in place of `systemctl restart vboxdrv`"
    )
