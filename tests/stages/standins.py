"""Stand-ins for the stages' adapters: invoke's MockContext for commands, a fake guest, a fake daemon.

The store is real: built the way docker-machine v0.16 builds one (tests/support/store.py).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import posixpath
import queue
import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union
from unittest.mock import Mock

import pytest
from invoke import Config, MockContext, Result

from docker_vpn_helper.adapters import daemon
from docker_vpn_helper.adapters.guest import DaemonFiles
from docker_vpn_helper.core.minikube import unit_tls_files
from docker_vpn_helper.errors import HelperError
from docker_vpn_helper.link import GuestLink
from docker_vpn_helper.stages import ports as ports_stage

from ..support import store as dm
from ..support.runs import RunMock

DATA = Path(__file__).parent.parent / "core" / "data"
SSH_RULE = "ssh,tcp,127.0.0.1,50157,,22"
DOCKER_RULE = "docker,tcp,127.0.0.1,2376,,2376"


def showvminfo(
    state: str = "running", rules=(SSH_RULE,), name: str = "default", cfg: Path | None = None
) -> str:
    """`showvminfo --machinereadable` in VirtualBox's real layout with our state and NAT rules
    (and the settings file `cfg` as its CfgFile)."""
    lines = []
    for line in (DATA / "showvminfo_running.txt").read_text().splitlines():
        if line.startswith("Forwarding("):
            continue
        if cfg is not None and line.startswith("CfgFile="):
            line = f'CfgFile="{cfg}"'
        if line.startswith("VMState="):
            line = f'VMState="{state}"'
        if line.startswith("name="):
            line = f'name="{name}"'
        lines.append(line)
        if line.startswith("tcpWndRcv="):
            lines += [f'Forwarding({i})="{rule}"' for i, rule in enumerate(rules)]
    return "\n".join(lines) + "\n"


SETTINGS = """<?xml version="1.0"?>
<VirtualBox xmlns="http://www.virtualbox.org/" version="{version}">
  <Machine uuid="{{38faa80d-b4fe-42cb-8076-d641008d3b7d}}" name="default" OSType="Linux26_64">
{extradata}    <Hardware>
      <Network>
        <Adapter slot="0" enabled="true" MACAddress="080027A3E8D0" type="82540EM">
          <NAT{reachable}>
            <DNS use-proxy="true"{resolver}/>
{forwarding}
          </NAT>
        </Adapter>
      </Network>
    </Hardware>
  </Machine>
</VirtualBox>
"""


def write_settings(
    store: Path,
    host_resolver: bool = False,
    rules=(SSH_RULE,),
    extradata: dict | None = None,
    localhost_reachable: bool | None = None,
) -> Path:
    """The VM's settings file (showvminfo's CfgFile), where VirtualBox keeps the NAT engine's DNS
    settings that showvminfo does not print, NAT rules as `<Forwarding>` elements, extradata,
    and (set: VirtualBox 7's format 1.19) whether 10.0.2.2 reaches the host's loopback."""
    cfg = store / "machines/default/default/default.vbox"
    cfg.parent.mkdir(exist_ok=True)
    flag = ' use-host-resolver="true"' if host_resolver else ""
    forwarding = []
    for rule in rules:
        name, proto, host_ip, host_port, guest_ip, guest_port = rule.split(",")
        forwarding.append(
            f'            <Forwarding name="{name}" proto="{1 if proto == "tcp" else 0}" '
            f'hostip="{host_ip}" hostport="{host_port}" guestip="{guest_ip}" '
            f'guestport="{guest_port}"/>'
        )
    items = "".join(
        f'      <ExtraDataItem name="{key}" value="{value}"/>\n'
        for key, value in (extradata or {}).items()
    )
    reachable = (
        ""
        if localhost_reachable is None
        else f' localhost-reachable="{str(localhost_reachable).lower()}"'
    )
    cfg.write_text(
        SETTINGS.format(
            version="1.16-macosx" if localhost_reachable is None else "1.19-macosx",
            extradata=f"    <ExtraData>\n{items}    </ExtraData>\n" if items else "",
            reachable=reachable,
            resolver=flag,
            forwarding="\n".join(forwarding),
        )
    )
    return cfg


def host_names_mapped(device: str = "e1000") -> dict:
    """The extradata of our host.docker.internal mapping, as dns.host-names sets it."""
    from docker_vpn_helper.core import vbox

    ip_key, pattern_key = vbox.mapping_keys(device)
    return {ip_key: vbox.NAT_HOST_IP, pattern_key: vbox.HOST_NAMES}


def cmd(*argv: str) -> str:
    return shlex.join(argv)


def ok(stdout: str = "") -> Result:
    return Result(stdout=stdout, exited=0)


SHOW = cmd("VBoxManage", "showvminfo", "default", "--machinereadable")
# What VirtualBox answers for a running VM: the stages that SSH ask it for the live SSH port.
RUNNING = {SHOW: ok(showvminfo())}


def fail(stderr: str, exited: int = 1) -> Result:
    return Result(stderr=stderr, exited=exited)


@pytest.fixture(scope="session")
def store_template(tmp_path_factory) -> Path:
    store = tmp_path_factory.mktemp("template") / "store"
    dm.create_certs(store)
    dm.create_machine(store, "default", "192.168.99.100", 50157)
    return store


@pytest.fixture
def store(store_template, tmp_path) -> Path:
    """A fresh copy of a docker-machine v0.16 store (RSA keys are slow: made once per session)."""
    copy = tmp_path / "store"
    shutil.copytree(store_template, copy)
    config = copy / "machines" / "default" / "config.json"
    config.write_text(config.read_text().replace(str(store_template), str(copy)))
    return copy


def set_driver(store: Path, driver: str) -> None:
    """The fixture machine as if docker-machine had made it with another driver."""
    config = store / "machines" / "default" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "DriverName": driver}))


def record_loopback_sans(store: Path) -> None:
    """The fixture machine's config.json as a fix leaves it: localhost and 127.0.0.1 recorded."""
    config = store / "machines" / "default" / "config.json"
    data = json.loads(config.read_text())
    data["HostOptions"]["AuthOptions"]["ServerCertSANs"] = ["localhost", "127.0.0.1"]
    config.write_text(json.dumps(data))


def commands(c: MockContext) -> list[str]:
    return [call.args[0] for call in c.run.call_args_list]


@dataclass
class FakeHost:
    """VBoxManage, docker-machine and sudo as one host, recording every command's argv: a VM
    whose state and NAT rules the change commands really change (`controlvm`/`modifyvm
    --natpfN`, `docker-machine start`/`stop`), and which answers the reads (`showvminfo`,
    `list vms`, `--version`). Anything else (sudo's own probe, ps, route) answers ok, empty."""

    vboxmanage: str = "VBoxManage"
    docker_machine: str = "docker-machine"
    state: str = "running"
    rules: list = field(default_factory=lambda: [SSH_RULE])
    cfg: Path | None = None  # the VM's settings file (its NAT DNS settings and rules)
    argvs: list = field(default_factory=list)
    version: str = "7.0.14r161095"  # 7.0.0r153978: showvminfo lists no rule of several
    resolver: bool = False
    extradata: dict = field(default_factory=dict)
    localhost_reachable: bool | None = None  # set: the settings file is 7.0's format
    name: str = "default"  # the VM's name; None as `state`: VirtualBox has no such VM yet
    answers: dict = field(default_factory=dict)  # {command line: Result} for the host's reads
    create: Callable[[], None] | None = None  # what `docker-machine create` leaves in the store

    def answer(self, line: str) -> Result:
        argv = shlex.split(line)
        self.argvs.append(argv)
        if line in self.answers:
            return self.answers[line]
        if argv[0] == self.vboxmanage:
            return self._virtualbox(argv[1:])
        if argv[0] == self.docker_machine and argv[3] in ("start", "stop", "create"):
            self.state = "poweroff" if argv[3] == "stop" else "running"
            if argv[3] == "create" and self.create is not None:
                self.create()
        return ok()

    def _virtualbox(self, args: list) -> Result:
        if args[0] == "showvminfo" and self.state is None:
            return fail(f"VBoxManage: error: Could not find a registered machine named '{args[1]}'")
        if args[0] == "showvminfo":
            cut = self.version.split("r")[0] in ("7.0.0", "7.0.1") and len(self.rules) > 1
            return ok(showvminfo(self.state, () if cut else tuple(self.rules), self.name, self.cfg))
        if args[0] == "--version":
            return ok(self.version + "\n")
        if args[0] in ("controlvm", "modifyvm") and args[2].lstrip("-").startswith("natpf"):
            words = args[3:]
            if words[0] == "delete":
                self.rules = [r for r in self.rules if r.split(",")[0] != words[1]]
            else:
                self.rules.append(words[0])
        if args[0] == "modifyvm" and args[2] == "--natdnshostresolver1":
            self.resolver = args[3] == "on"
        if args[0] == "modifyvm" and args[2] == "--nat-localhostreachable1":
            self.localhost_reachable = args[3] == "on"
        if args[0] == "setextradata":
            if len(args) > 3:
                self.extradata[args[2]] = args[3]
            else:
                self.extradata.pop(args[2], None)
        if self.cfg:  # VirtualBox saves every change to the settings file
            self.save()
        return ok()

    def save(self) -> None:
        assert self.cfg is not None
        store = self.cfg.parents[3]
        write_settings(store, self.resolver, self.rules, self.extradata, self.localhost_reachable)

    def context(self, **vpnhelper: str) -> MockContext:
        """invoke's MockContext answering every command through `answer` (its calls recorded
        by the Mock, as `commands` reads them); `vpnhelper`: that configuration section."""
        c = MockContext(config=Config(overrides={"vpnhelper": vpnhelper}))
        c.run = Mock(side_effect=lambda command, **kwargs: self.answer(command))
        return c


@dataclass
class FakeGuest:
    """Behaves like adapters.guest.Guest against a boot2docker VM, in memory."""

    files: dict[str, bytes] = field(default_factory=dict)
    restarts: int = 0
    log: list[str] = field(default_factory=list)
    served: bytes | None = None  # the server.pem dockerd loaded when it (re)started
    signature_algorithm: str = "rsa-sha2-512"
    refuse: bytes | None = None  # a certificate the guest's init script will not start dockerd with
    connections_opened: int = 0
    ports: list[int] = field(default_factory=list)  # the port of each Guest the session made
    policies: dict[str, str] = field(default_factory=dict)  # running containers' restart policies
    restart_commands: list = field(default_factory=list)  # (command, flavour) of each restart

    CERT = "/var/lib/boot2docker/server.pem"
    KEY = "/var/lib/boot2docker/server-key.pem"
    CA = "/var/lib/boot2docker/ca.pem"

    def connect(self):
        self.connections_opened += 1

    def read_daemon_files(self) -> DaemonFiles:
        self.log.append("read")
        key = self.files.get(self.KEY)
        return DaemonFiles(
            "/var/lib/boot2docker/ca.pem",
            self.CERT,
            self.KEY,
            self.files.get(self.CERT),
            True,
            server_key_sha256=None if key is None else hashlib.sha256(key).hexdigest(),
            ca_cert_pem=self.files.get(self.CA),
        )

    def read_unit_daemon_files(self, drop_in: str) -> DaemonFiles:
        """minikube's VM: the paths come from docker.service's drop-in, as the real Guest's."""
        self.log.append("read")
        files = unit_tls_files(self.files.get(drop_in, b"").decode())
        key = self.files.get(files.key)
        return DaemonFiles(
            files.ca,
            files.cert,
            files.key,
            self.files.get(files.cert),
            True,
            server_key_sha256=None if key is None else hashlib.sha256(key).hexdigest(),
            ca_cert_pem=self.files.get(files.ca),
        )

    def _back_up(self, targets, backup_dir):
        backups = []  # one per file, "" where there was nothing to back up (as the real Guest)
        for path in targets:
            backup = ""
            if path in self.files:
                backup = f"{backup_dir}/{Path(path).name}"
                self.files[backup] = self.files[path]
            backups.append(backup)
        return backups

    def install_files(self, files, backup_dir):
        self.log.append("install")
        backups = self._back_up([path for path, _, _ in files], backup_dir)
        for path, content, _mode in files:
            self.files[path] = content
        return backups

    def restore_files(self, backups, backup_dir=None, *, skip_missing=False):
        self.log.append("restore")
        if not skip_missing and any(b and b not in self.files for b, _ in backups):
            raise AssertionError("the real Guest refuses: a backup is missing")
        replaced = [] if backup_dir is None else self._back_up([t for _, t in backups], backup_dir)
        for backup, target in backups:
            if backup in self.files:
                self.files[target] = self.files[backup]
            elif not backup:
                self.files.pop(target, None)
        return replaced

    def read_files(self, paths):
        self.log.append("read files")
        return [self.files.get(path) for path in paths]

    def read_folder(self, folder, patterns):
        self.log.append("read folder")
        return {
            path: data
            for path, data in self.files.items()
            if posixpath.dirname(path) == folder
            and any(fnmatch.fnmatch(posixpath.basename(path), p) for p in patterns)
        }

    def restart_policies(self):
        return dict(self.policies)

    def restart_daemon(self, command=None, *, timeout=60.0, flavour=None):
        self.log.append("restart")
        self.restart_commands.append((command, flavour))
        self.restarts += 1
        current = self.files[self.CERT]
        self.served = None if current == self.refuse else current

    def close(self):
        pass


class RefusedGuest:
    """A Guest whose VM refuses SSH (nothing listens on its port)."""

    connections_opened = 0

    def __init__(self, port: int) -> None:
        self.port = port

    def connect(self):
        raise HelperError(f"cannot reach the VM over SSH on 127.0.0.1:{self.port}: refused")

    def close(self):
        pass


def install_guest(monkeypatch, store: Path) -> FakeGuest:
    """A FakeGuest holding the store's server certificate, served by dockerd, as every Guest
    the sessions open."""
    fake = FakeGuest()
    fake.files[FakeGuest.CERT] = (store / "machines/default/server.pem").read_bytes()
    fake.files[FakeGuest.KEY] = (store / "machines/default/server-key.pem").read_bytes()
    fake.files[FakeGuest.CA] = (store / "certs/ca.pem").read_bytes()
    fake.served = fake.files[FakeGuest.CERT]

    def open_guest(self, port, machine):
        fake.ports.append(port)
        return fake

    monkeypatch.setattr(GuestLink, "_open_guest", open_guest)
    return fake


@pytest.fixture
def guest(monkeypatch, store):
    return install_guest(monkeypatch, store)


@dataclass
class FakeDaemon:
    """dockerd as the TLS probe sees it: it serves the certificate it loaded at its last start."""

    guest: FakeGuest
    probes: int = 0
    containers: list = field(default_factory=list)  # what GET /containers/json answers
    plain: bool = False  # another program holds the port, answering without TLS (HTTP, SSH)

    def probe(self, *args, server_name="localhost", **kwargs):
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding

        self.probes += 1
        if self.plain:
            reason = "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)"
            return daemon.Probe(False, f"127.0.0.1:2376: {reason}", not_tls=True)
        if self.guest.served is None:
            return daemon.Probe(False, "127.0.0.1:2376: Connection refused")
        cert = x509.load_pem_x509_certificate(self.guest.served)
        der = cert.public_bytes(Encoding.DER)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        if server_name and server_name not in san.get_values_for_type(x509.DNSName):
            return daemon.Probe(False, "the daemon's certificate was rejected: Hostname mismatch")
        return daemon.Probe(True, "Docker 20.10.24", der)


def install_daemon(monkeypatch, guest: FakeGuest) -> FakeDaemon:
    """A FakeDaemon for `guest`, answering the TLS probe and the engine's container list."""
    fake = FakeDaemon(guest)
    monkeypatch.setattr(daemon, "probe", fake.probe)
    monkeypatch.setattr(ports_stage, "containers", lambda s: list(fake.containers))
    return fake


@pytest.fixture
def dockerd(monkeypatch, guest):
    return install_daemon(monkeypatch, guest)


def context(results: dict[str, Result]) -> RunMock:
    """What a task gets from the executor, with VirtualBox's answers stood in."""
    # A copy: MockContext rewrites the dict it is given (so RUNNING could serve only once).
    return RunMock(run=dict(results), repeat=True)


END = object()  # the end of a FakeEvents stream


class FakeEvents:
    """An event stream as adapters.engine.Events gives it: iterating blocks until the daemon
    `release`s the next event (or the end); `close()` ends it from any thread."""

    def __init__(self, events: list[dict]) -> None:
        self.left = list(events)
        self.items: queue.Queue = queue.Queue()
        self.closed = False

    def release(self) -> None:
        """The next event (None: silence this time), or the end once all were sent (the daemon
        stopped)."""
        item = self.left.pop(0) if self.left else END
        if item is not None:
            self.items.put(item)

    def __iter__(self):
        while True:
            item = self.items.get()
            if item is END:
                return
            yield item

    def close(self) -> None:
        self.closed = True
        self.items.put(END)


Look = Union[list, Callable[[], list]]


@dataclass
class FakeEngine:
    """The daemon as ports.watch sees it, one step at a time, so every run is the same.

    Each connect takes the next of `connections`: the events its stream will carry (`event`),
    or an exception to raise (the daemon unreachable). Each container listing answers the
    next of `looks` (a list, or a function returning one, run at that moment), then lets the
    stream release one event, or its end: one event is in flight at a time, so no two are
    batched together. When `connections` or `looks` run out, Ctrl-C (KeyboardInterrupt).
    """

    connections: list[Any]
    looks: list[Look]
    streams: list[FakeEvents] = field(default_factory=list)
    closed: int = 0

    def connect(self, s):
        if not self.connections:
            raise KeyboardInterrupt
        outcome = self.connections.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        self.streams.append(FakeEvents(outcome))
        return self, self.streams[-1]

    def containers(self) -> list:
        if not self.looks:
            raise KeyboardInterrupt
        look = self.looks.pop(0)
        answer = look() if callable(look) else look
        self.streams[-1].release()
        return list(answer)

    def close(self) -> None:
        self.closed += 1


def event(action: str = "start", container: dict | None = None) -> dict:
    """A container event as the engine API (1.24) streams it."""
    ident = (container or {}).get("Id", "0" * 64)
    return {
        "Type": "container",
        "Action": action,
        "status": action,
        "id": ident,
        "Actor": {"ID": ident, "Attributes": {}},
    }
