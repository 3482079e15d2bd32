import pytest

from docker_vpn_helper.adapters import host
from docker_vpn_helper.errors import HelperError
from docker_vpn_helper.stages import routes, step

from ..support.runs import session_for
from .standins import SHOW, cmd, commands, context, fail, ok, showvminfo

SUDO_OK = "sudo -n true"
IP_GET = cmd("ip", "route", "get", "192.168.99.100")
IP_LINK = cmd("ip", "-o", "link", "show", "dev", "vboxnet0")
IP_TUN = cmd("ip", "-o", "link", "show", "dev", "utun0")
REPLACE = "sudo -n " + cmd(
    "ip", "route", "replace", "192.168.99.0/24", "dev", "vboxnet0",
    "proto", "kernel", "scope", "link", "src", "192.168.99.1",
)  # fmt: skip
MAC_GET = cmd("route", "-n", "get", "192.168.99.100")
MAC_ADD = "sudo -n " + cmd(
    "route", "-n", "add", "-net", "192.168.99.0/24", "-interface", "vboxnet0"
)
MAC_DELETE = "sudo -n " + cmd("route", "-n", "delete", "-net", "192.168.99.0/24")

HIJACKED = "192.168.99.100 dev utun0 src 192.168.99.1 uid 0 \n    cache \n"
HEALTHY = "192.168.99.100 dev vboxnet0 src 192.168.99.1 uid 0 \n    cache \n"
DEAD_TUN = (
    "5: utun0: <NO-CARRIER,POINTOPOINT,MULTICAST,NOARP,UP> mtu 1500 state DOWN\\    link/none \n"
)
LIVE_TUN = (
    "5: utun0: <POINTOPOINT,MULTICAST,NOARP,UP,LOWER_UP> mtu 1500 state UNKNOWN\\    link/none \n"
)
VBOXNET = "2: vboxnet0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\\    link/ether 0a:00:27:00:00:00\n"
MAC_ROUTE = """   route to: 192.168.99.100
destination: 192.168.99.0
       mask: 255.255.255.0
  interface: {iface}
      flags: <UP,DONE,CLONING,STATIC>
"""


def run(store, results, dry_run=False):
    c = context(results)
    s = session_for(c, "default", str(store), dry_run=dry_run)
    step(s, routes.STAGE)
    return c


@pytest.fixture
def linux(monkeypatch):
    monkeypatch.setattr(host, "platform", lambda: "linux")


@pytest.fixture
def macos(monkeypatch):
    monkeypatch.setattr(host, "platform", lambda: "macos")


def test_route_already_on_vboxnet_means_nothing_to_do(store, linux, capsys):
    c = run(store, {SHOW: ok(showvminfo()), IP_GET: ok(HEALTHY)})
    assert commands(c) == [SHOW, IP_GET]
    assert "routed via vboxnet0 (the VM's network): nothing to do" in capsys.readouterr().err


def test_linux_stale_route_on_a_dead_tunnel_is_replaced(store, linux, capsys):
    c = context(
        {
            SHOW: ok(showvminfo()),
            IP_TUN: ok(DEAD_TUN),
            IP_LINK: ok(VBOXNET),
            SUDO_OK: ok(),
            REPLACE: ok(),
        }
    )
    c.set_result_for("run", IP_GET, [ok(HIJACKED), ok(HEALTHY)])
    step(session_for(c, "default", str(store)), routes.STAGE)
    assert commands(c) == [SHOW, IP_GET, IP_TUN, IP_LINK, SUDO_OK, REPLACE, IP_GET]
    assert "routed 192.168.99.0/24 to vboxnet0 again" in capsys.readouterr().err


def test_a_live_tunnel_means_the_vpn_is_connected_and_is_refused(store, linux):
    with pytest.raises(
        HelperError, match=r"utun0 is up with its client attached: the VPN is still connected"
    ):
        run(store, {SHOW: ok(showvminfo()), IP_GET: ok(HIJACKED), IP_TUN: ok(LIVE_TUN)})


def test_missing_vboxnet_needs_a_kext_restart(store, linux):
    missing = fail('Device "vboxnet0" does not exist.')
    with pytest.raises(
        HelperError,
        match=r"vboxnet0 does not exist: VirtualBox cannot add its routes.*kexts\.restart",
    ):
        run(
            store,
            {SHOW: ok(showvminfo()), IP_GET: ok(HIJACKED), IP_TUN: ok(DEAD_TUN), IP_LINK: missing},
        )


def test_route_command_failing_on_the_adapter_needs_a_kext_restart(store, linux):
    with pytest.raises(
        HelperError,
        match=r"failed \(Cannot find device \"vboxnet0\"\): VirtualBox cannot add its routes",
    ):
        run(
            store,
            {
                SHOW: ok(showvminfo()),
                IP_GET: ok(HIJACKED),
                IP_TUN: ok(DEAD_TUN),
                IP_LINK: ok(VBOXNET),
                SUDO_OK: ok(),
                REPLACE: fail('Cannot find device "vboxnet0"'),
            },
        )


def test_dry_run_plans_without_sudo(store, linux, capsys):
    c = run(
        store,
        {SHOW: ok(showvminfo()), IP_GET: ok(HIJACKED), IP_TUN: ok(DEAD_TUN), IP_LINK: ok(VBOXNET)},
        dry_run=True,
    )
    assert not any(command.startswith("sudo") for command in commands(c))
    assert f"would run: {REPLACE.replace('-n ', '', 1)}" in capsys.readouterr().err


def test_macos_deletes_the_stale_route_when_add_says_file_exists(store, macos):
    c = context(
        {
            SHOW: ok(showvminfo()),
            cmd("ifconfig", "utun0"): ok("utun0: flags=8010<POINTOPOINT,MULTICAST> mtu 1380\n"),
            cmd("ifconfig", "vboxnet0"): ok(
                "vboxnet0: flags=8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> mtu 1500\n"
            ),
            SUDO_OK: ok(),
            MAC_DELETE: ok("delete net 192.168.99.0\n"),
        }
    )
    c.set_result_for(
        "run",
        MAC_GET,
        [ok(MAC_ROUTE.format(iface="utun0")), ok(MAC_ROUTE.format(iface="vboxnet0"))],
    )
    c.set_result_for(
        "run",
        MAC_ADD,
        [
            fail(
                "route: writing to routing socket: File exists\nadd net 192.168.99.0: gateway vboxnet0: File exists"
            ),
            ok("add net 192.168.99.0: gateway vboxnet0\n"),
        ],
    )
    step(session_for(c, "default", str(store)), routes.STAGE)
    assert commands(c)[4:] == [SUDO_OK, MAC_ADD, SUDO_OK, MAC_DELETE, SUDO_OK, MAC_ADD, MAC_GET]


def test_macos_adapter_down_needs_a_kext_restart(store, macos):
    with pytest.raises(HelperError, match="vboxnet0 is down: VirtualBox cannot add its routes"):
        run(
            store,
            {
                SHOW: ok(showvminfo()),
                MAC_GET: ok(MAC_ROUTE.format(iface="utun0")),
                cmd("ifconfig", "utun0"): fail("ifconfig: interface utun0 does not exist"),
                cmd("ifconfig", "vboxnet0"): ok(
                    "vboxnet0: flags=8842<BROADCAST,RUNNING,SIMPLEX,MULTICAST> mtu 1500\n"
                ),
            },
        )


def test_unregistered_vm_is_one_line(store, linux):
    missing = fail("VBoxManage: error: Could not find a registered machine named 'default'")
    with pytest.raises(HelperError, match="VirtualBox has no VM named 'default'"):
        run(store, {SHOW: missing})
