import shlex

import pytest
from invoke import Config, MockContext
from invoke.exceptions import AuthFailure

from docker_vpn_helper.adapters import host
from docker_vpn_helper.errors import HelperError
from docker_vpn_helper.session import Session
from docker_vpn_helper.settings import MACOS_KEXT_COMMAND, resolve
from docker_vpn_helper.stages import kexts, step

from .standins import cmd, commands, fail, ok

KEXT_LINE = shlex.join(shlex.split(MACOS_KEXT_COMMAND))  # as the sudo command runs it
PS = cmd("ps", "-axo", "pid=,comm=")
VERSION = cmd("VBoxManage", "--version")


def session(results, sudo=None, password=None, **settings):
    config = Config(overrides={"sudo": {"password": password}})
    c = MockContext(config=config, run=results, sudo=sudo or {}, repeat=True)
    return Session(c, resolve(settings, machine="default", storage_path="/nowhere"))


@pytest.fixture
def macos(monkeypatch):
    monkeypatch.setattr(host, "platform", lambda: "macos")


def test_macos_virtualbox6_restarts_the_startup_script_with_passwordless_sudo(macos):
    s = session(
        {
            PS: ok(""),
            VERSION: ok("6.1.50r161033\n"),
            "sudo -n true": ok(),
            f"sudo -n {KEXT_LINE}": ok("Unloading VBoxUSB.kext\nLoading VBoxNetAdp.kext\n"),
        }
    )
    step(s, kexts.STAGE)
    assert (
        commands(s.c)[-1]
        == "sudo -n '/Library/Application Support/VirtualBox/LaunchDaemons/VirtualBoxStartup.sh' restart"
    )


def test_macos_virtualbox7_has_nothing_to_restart(macos, capsys):
    s = session({PS: ok(""), VERSION: ok("7.0.14r161095\n")})
    step(s, kexts.STAGE)
    assert commands(s.c) == [PS, VERSION]
    assert (
        "VirtualBox 7 on macOS has no kernel extensions to restart: skipped"
        in capsys.readouterr().err
    )


def test_linux_restarts_vboxdrv(monkeypatch):
    monkeypatch.setattr(host, "platform", lambda: "linux")
    s = session({PS: ok(""), "sudo -n true": ok(), "sudo -n systemctl restart vboxdrv": ok()})
    step(s, kexts.STAGE)
    assert commands(s.c) == [PS, "sudo -n true", "sudo -n systemctl restart vboxdrv"]


def test_refuses_while_virtualbox_runs_and_lists_pids(macos):
    s = session(
        {
            PS: ok(
                "  412 /Applications/VirtualBox.app/Contents/MacOS/VBoxXPCOMIPCD\n  415 /Applications/VirtualBox.app/Contents/MacOS/VBoxSVC\n"
            )
        }
    )
    with pytest.raises(
        HelperError,
        match=r"VirtualBox is running \(VBoxXPCOMIPCD \(pid 412\), VBoxSVC \(pid 415\)\)",
    ):
        step(s, kexts.STAGE)


def test_no_terminal_and_no_password_fails_instead_of_hanging(macos, monkeypatch):
    monkeypatch.setattr(host, "interactive", lambda: False)
    s = session(
        {
            PS: ok(""),
            VERSION: ok("6.1.50r161033\n"),
            "sudo -n true": fail("sudo: a password is required"),
        }
    )
    with pytest.raises(HelperError, match="sudo needs a password and there is no terminal"):
        step(s, kexts.STAGE)


def test_configured_password_is_used_and_never_printed(macos, monkeypatch, capsys):
    monkeypatch.setattr(host, "interactive", lambda: False)
    s = session(
        {
            PS: ok(""),
            VERSION: ok("6.1.50r161033\n"),
            "sudo -n true": fail("sudo: a password is required"),
        },
        sudo={KEXT_LINE: ok()},
        password="hunter2",
    )
    step(s, kexts.STAGE)
    s.c.sudo.assert_called_once()
    assert "hunter2" not in "".join(capsys.readouterr())


def test_wrong_password_is_one_line(macos, monkeypatch):
    monkeypatch.setattr(host, "interactive", lambda: True)
    s = session(
        {
            PS: ok(""),
            VERSION: ok("6.1.50r161033\n"),
            "sudo -n true": fail("sudo: a password is required"),
        }
    )

    def refuse(*args, **kwargs):
        raise AuthFailure(result=None, prompt="[sudo] password: ")

    s.c.sudo = refuse
    with pytest.raises(HelperError, match="sudo did not accept the password"):
        step(s, kexts.STAGE)


def test_configured_command_wins(monkeypatch):
    monkeypatch.setattr(host, "platform", lambda: "linux")
    s = session(
        {PS: ok(""), "sudo -n true": ok(), "sudo -n /opt/vbox/vboxdrv.sh restart": ok()},
        kext_command="/opt/vbox/vboxdrv.sh restart",
    )
    step(s, kexts.STAGE)
    assert commands(s.c)[-1] == "sudo -n /opt/vbox/vboxdrv.sh restart"


def test_dry_run_does_not_sudo(monkeypatch, capsys):
    monkeypatch.setattr(host, "platform", lambda: "linux")
    s = session({PS: ok("")}, dry_run=True)
    s.settings = resolve({}, machine="default", storage_path="/nowhere", dry_run=True)
    step(s, kexts.STAGE)
    assert commands(s.c) == [PS]
    assert "would run: sudo systemctl restart vboxdrv" in capsys.readouterr().err


def test_a_failing_restart_is_one_line_with_its_last_words(monkeypatch):
    monkeypatch.setattr(host, "platform", lambda: "linux")
    failed = fail("Job for vboxdrv.service failed.\nSee 'journalctl -xe' for details.")
    s = session({PS: ok(""), "sudo -n true": ok(), "sudo -n systemctl restart vboxdrv": failed})
    with pytest.raises(HelperError, match=r"drivers failed: See 'journalctl -xe' for details; "):
        step(s, kexts.STAGE)


@pytest.mark.parametrize(
    "settings, line",
    [
        ({}, "systemctl restart vboxdrv"),  # Linux's default, e.g. in a container: no systemd
        ({"kext_command": "/opt/vbox/vboxdrv.sh restart"}, "/opt/vbox/vboxdrv.sh restart"),
    ],
)
def test_a_failed_restart_names_the_setting_that_replaces_it(monkeypatch, settings, line):
    # Issue 21, item 6: the line said only "Failed to connect to bus: Host is down".
    monkeypatch.setattr(host, "platform", lambda: "linux")
    s = session(
        {
            PS: ok(""),
            "sudo -n true": ok(),
            f"sudo -n {line}": fail("Failed to connect to bus: Host is down"),
        },
        **settings,
    )
    with pytest.raises(HelperError) as raised:
        step(s, kexts.STAGE)
    assert raised.value.reason == (
        "restarting VirtualBox's drivers failed: Failed to connect to bus: Host is down; to "
        "restart them another way, set vpnhelper.kext_command (or INVOKE_VPNHELPER_KEXT_COMMAND) "
        f"to that command, in place of `{line}`"
    )
