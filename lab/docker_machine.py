"""`docker-machine` stand-in (v0.16.2, virtualbox driver, boot2docker provisioner). Run via
<lab>/bin/docker-machine. It drives the VBoxManage stand-in and SSH exactly where the real one does,
so it breaks where the real one breaks (e.g. `create` and `env` behind the VPN).

Supported: version; ls [-t SECONDS]; status|ip|url|inspect|env NAME; start|stop NAME; ssh NAME [CMD];
create -d virtualbox [--tls-san X]... [--engine-storage-driver D] [--virtualbox-host-dns-resolver]
[--virtualbox-no-dns-proxy] NAME (other --virtualbox-* flags are accepted and ignored);
regenerate-certs [-f] NAME.
Global flags: -s/--storage-path (default $MACHINE_STORAGE_PATH, else ~/.docker/machine), -D.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from cryptography import x509

from . import guest, state, store
from .paths import HOST_NS, HOSTONLY_BRIDGE, HOSTONLY_HOST_IP, LabPaths, default_dir, netns_path

VERSION = "docker-machine version 0.16.2, build bd45ab13"
DOCKER_PORT = 2376
DIAL_TIMEOUT = 5.0
REGENERATE_HINT = (
    "You can attempt to regenerate them using 'docker-machine regenerate-certs [name]'.\n"
    "Be advised that this will trigger a Docker daemon restart which might stop running containers."
)


class MachineError(Exception):
    """Printed on stderr as is; exit status 1."""


def info(line: str) -> None:
    print(line, flush=True)


# ---- the store ----------------------------------------------------------------------------------


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path

    def dir(self, name: str) -> Path:
        return self.path / "machines" / name

    def names(self) -> list[str]:
        machines = self.path / "machines"
        if not machines.is_dir():
            return []
        return sorted(p.name for p in machines.iterdir() if (p / "config.json").is_file())

    def load(self, name: str) -> dict[str, Any]:
        try:
            return json.loads(
                (self.dir(name) / "config.json").read_text(), object_pairs_hook=OrderedDict
            )
        except FileNotFoundError:
            raise MachineError(
                f'Docker machine "{name}" does not exist. Use "docker-machine ls" to list machines. '
                'Use "docker-machine create" to add a new one.'
            ) from None

    def save(self, name: str, config: dict[str, Any]) -> None:
        store.write(self.dir(name) / "config.json", json.dumps(config, indent=4).encode(), 0o600)


# ---- VirtualBox and SSH ---------------------------------------------------------------------------


def vbm_path() -> str:
    return shutil.which("VBoxManage") or str(default_dir() / "bin" / "VBoxManage")


def vbm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run VBoxManage (the stand-in on PATH) as the virtualbox driver does."""
    result = subprocess.run([vbm_path(), *args], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise MachineError(result.stderr.strip() or f"VBoxManage {args[0]} failed")
    return result


def vm_state(name: str) -> str:
    """Go's state names from VMState: Running, Stopped, Saved, Paused."""
    out = vbm("showvminfo", name, "--machinereadable").stdout
    for line in out.splitlines():
        if line.startswith("VMState="):
            value = line.split("=", 1)[1].strip('"')
            return {"running": "Running", "paused": "Paused", "saved": "Saved"}.get(
                value, "Stopped"
            )
    return "None"


def ssh_argv(config: dict[str, Any], *command: str, timeout: int = 10) -> list[str]:
    """The external client's options (libmachine/ssh), signing with ssh-rsa only, as Go's 2019 client did."""
    driver = config["Driver"]
    key = driver.get("SSHKeyPath") or str(
        Path(driver["StorePath"]) / "machines" / config["Name"] / "id_rsa"
    )
    return [
        "ssh",
        "-F", "/dev/null",
        "-o", "ConnectionAttempts=3",
        "-o", f"ConnectTimeout={timeout}",
        "-o", "ControlMaster=no",
        "-o", "ControlPath=none",
        "-o", "LogLevel=quiet",
        "-o", "PasswordAuthentication=no",
        "-o", "ServerAliveInterval=60",
        "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null",
        "-o", "HostKeyAlgorithms=+ssh-rsa",
        "-o", "PubkeyAcceptedAlgorithms=ssh-rsa",
        "-o", "BatchMode=yes",
        f"{driver.get('SSHUser') or 'docker'}@127.0.0.1",
        "-o", "IdentitiesOnly=yes",
        "-i", key,
        "-p", str(driver.get("SSHPort") or 22),
        *command,
    ]  # fmt: skip


def ssh(config: dict[str, Any], command: str) -> str:
    result = subprocess.run(
        ssh_argv(config, command),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise MachineError(
            "Something went wrong running an SSH command!\n"
            f"command : {command}\nerr     : exit status {result.returncode}\n"
            f"output  : {result.stdout}{result.stderr}"
        )
    return result.stdout


def wait_for_ssh(config: dict[str, Any], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        probe = subprocess.run(
            ssh_argv(config, "exit 0", timeout=2),
            capture_output=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
        if probe.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise MachineError(
                "Too many retries waiting for SSH to be available.  Last error: Maximum number of retries (60) exceeded"
            )
        time.sleep(0.2)


def get_ip(config: dict[str, Any]) -> str:
    """The virtualbox driver asks the guest itself over SSH (so this works behind the VPN)."""
    if vm_state(config["Name"]) != "Running":
        raise MachineError("Host is not running")
    for line in ssh(config, "ip addr show dev eth1").splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "inet":
            return fields[1].split("/")[0]
    raise MachineError("No IP address found")


# ---- TLS to the daemon -----------------------------------------------------------------------------


def _dial_error(host: str, port: int, exc: BaseException) -> str:
    where = f"dial tcp {host}:{port}"
    if isinstance(exc, socket.timeout):
        return f"{where}: i/o timeout"
    if isinstance(exc, OSError) and exc.errno:
        return f"{where}: connect: {os.strerror(exc.errno).lower()}"
    return f"{where}: {exc}"


def _hostname_error(host: str, der: bytes) -> str:
    """Go's x509.HostnameError text for the certificate the daemon presented."""
    cert = x509.load_der_x509_certificate(der)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        sans = x509.SubjectAlternativeName([])
    try:
        ipaddress.ip_address(host)
        valid = [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]
        if not valid:
            return f"x509: cannot validate certificate for {host} because it doesn't contain any IP SANs"
    except ValueError:
        valid = sans.get_values_for_type(x509.DNSName)
    if not valid:
        return f"x509: certificate is not valid for any names, but wanted to match {host}"
    return f"x509: certificate is valid for {', '.join(valid)}, not {host}"


def tls_get(
    host: str, port: int, path: str, ca: str, cert: str, key: str, timeout: float
) -> tuple[dict[str, Any] | None, str | None]:
    """GET https://host:port/path with mutual TLS; (json, None) or (None, Go-style error text)."""
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(cert, key)
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        return None, _dial_error(host, port, exc)
    try:
        with ctx.wrap_socket(sock, server_hostname=host) as tls:
            tls.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\n\r\n".encode())
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
    except ssl.SSLCertVerificationError as exc:
        if "match" in str(exc.verify_message).lower():
            return None, _hostname_error(host, _peer_der(host, port, timeout))
        return None, f"x509: {exc.verify_message}"
    except (OSError, ssl.SSLError) as exc:
        return None, f"remote error: {exc}"
    finally:
        sock.close()
    body = data.split(b"\r\n\r\n", 1)[-1]
    try:
        return json.loads(body), None
    except ValueError:
        return {}, None


def _peer_der(host: str, port: int, timeout: float) -> bytes:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((host, port), timeout=timeout) as sock,
        ctx.wrap_socket(sock) as tls,
    ):
        return tls.getpeercert(binary_form=True) or b""


def validate_certificate(config: dict[str, Any], ip: str) -> None:
    """libmachine's cert check: TLS to IP:2376 presenting server.pem as the client certificate."""
    auth = config["HostOptions"]["AuthOptions"]
    _, err = tls_get(
        ip,
        DOCKER_PORT,
        "/_ping",
        auth["CaCertPath"],
        auth["ServerCertPath"],
        auth["ServerKeyPath"],
        DIAL_TIMEOUT,
    )
    if err:
        raise MachineError(
            "Error checking and/or regenerating the certs: There was an error validating certificates "
            f'for host "{ip}:{DOCKER_PORT}": {err}\n{REGENERATE_HINT}'
        )


# ---- provisioning (libmachine/provision ConfigureAuth for boot2docker) ------------------------------


def configure_auth(config: dict[str, Any]) -> None:
    name = config["Name"]
    auth = config["HostOptions"]["AuthOptions"]
    engine = config["HostOptions"]["EngineOptions"]
    ip = get_ip(config)
    info("Copying certs to the local machine directory...")
    for src, dst in (
        ("CaCertPath", "ca.pem"),
        ("ClientCertPath", "cert.pem"),
        ("ClientKeyPath", "key.pem"),
    ):
        shutil.copyfile(auth[src], Path(auth["StorePath"]) / dst)
    ca_pem = Path(auth["CaCertPath"]).read_bytes()
    ca = x509.load_pem_x509_certificate(ca_pem)
    ca_key = store.load_key(Path(auth["CaPrivateKeyPath"]).read_bytes())
    hosts = [*auth.get("ServerCertSANs", []), ip, "localhost"]
    cert, key = store.issue_server(ca, ca_key, f"{store.username()}.{name}", hosts)
    store.write(Path(auth["ServerCertPath"]), store.cert_pem(cert))
    store.write(Path(auth["ServerKeyPath"]), store.key_pem(key), 0o600)
    ssh(config, "sudo /etc/init.d/docker stop")
    ssh(config, 'if [ ! -z "$(ip link show docker0)" ]; then sudo ip link delete docker0; fi')
    info("Copying certs to the remote machine...")
    for data, remote in (
        (ca_pem, "ca.pem"),
        (store.cert_pem(cert), "server.pem"),
        (store.key_pem(key), "server-key.pem"),
    ):
        ssh(config, f"printf '%s' '{data.decode()}' | sudo tee {guest.REMOTE_DIR}/{remote}")
    info("Setting Docker configuration on the remote daemon...")
    profile = guest.profile(engine.get("StorageDriver") or "aufs")
    ssh(config, f'printf %s "{profile}" | sudo tee {guest.REMOTE_DIR}/profile')
    ssh(config, "sudo /etc/init.d/docker start")
    for _ in range(10):
        if any(
            f":{DOCKER_PORT}" in ln and "LISTEN" in ln
            for ln in ssh(config, "netstat -an").splitlines()
        ):
            return
        time.sleep(3)
    raise MachineError("Maximum number of retries (10) exceeded")


# ---- commands ------------------------------------------------------------------------------------


def cmd_status(st: Store, args: list[str]) -> int:
    config = st.load(_one(args))
    info(vm_state(config["Name"]))
    return 0


def cmd_ip(st: Store, args: list[str]) -> int:
    info(get_ip(st.load(_one(args))))
    return 0


def cmd_url(st: Store, args: list[str]) -> int:
    info(f"tcp://{get_ip(st.load(_one(args)))}:{DOCKER_PORT}")
    return 0


def cmd_inspect(st: Store, args: list[str]) -> int:
    info(json.dumps(st.load(_one(args)), indent=4))
    return 0


def cmd_start(st: Store, args: list[str]) -> int:
    name = _one(args)
    config = st.load(name)
    info(f'Starting "{name}"...')
    if vm_state(name) == "Running":
        raise MachineError(f'Machine "{name}" is already running.')
    info(f"({name}) Check network to re-create if needed...")
    driver = config["Driver"]
    driver["SSHPort"] = _free_port(driver.get("SSHPort") or 0)
    vbm("modifyvm", name, "--natpf1", "delete", "ssh", check=False)
    vbm("modifyvm", name, "--natpf1", f"ssh,tcp,127.0.0.1,{driver['SSHPort']},,22")
    vbm("startvm", name, "--type", driver.get("UIType") or "headless")
    info(f"({name}) Waiting for an IP...")
    wait_for_ssh(config)
    driver["IPAddress"] = get_ip(config)
    st.save(name, config)
    info(f'Machine "{name}" was started.')
    info("Waiting for SSH to be available...")
    info("Detecting the provisioner...")
    info(
        "Started machines may have new IP addresses. You may need to re-run the `docker-machine env` command."
    )
    return 0


def _free_port(wanted: int) -> int:
    """The driver keeps the old SSH port when it is free on the host, else takes a new one."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", wanted))
        except OSError:
            probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cmd_stop(st: Store, args: list[str]) -> int:
    name = _one(args)
    st.load(name)
    info(f'Stopping "{name}"...')
    if vm_state(name) != "Running":
        raise MachineError(f'Machine "{name}" is already stopped.')
    vbm("controlvm", name, "acpipowerbutton")
    while vm_state(name) == "Running":
        time.sleep(0.2)
    info(f'Machine "{name}" was stopped.')
    return 0


def cmd_ls(st: Store, args: list[str]) -> int:
    timeout = float(_option(args, ("-t", "--timeout"), "10"))
    rows = [["NAME", "ACTIVE", "DRIVER", "STATE", "URL", "SWARM", "DOCKER", "ERRORS"]]
    for name in st.names():
        config = st.load(name)
        state_, url, docker, error = vm_state(name), "", "Unknown", ""
        if state_ == "Running":
            ip = get_ip(config)
            url = f"tcp://{ip}:{DOCKER_PORT}"
            auth = config["HostOptions"]["AuthOptions"]
            mdir = Path(auth["StorePath"])
            version, err = tls_get(
                ip, DOCKER_PORT, "/v1.15/version", str(mdir / "ca.pem"), str(mdir / "cert.pem"),
                str(mdir / "key.pem"), timeout,
            )  # fmt: skip
            if err:
                error = f"Unable to query docker version: Get https://{ip}:{DOCKER_PORT}/v1.15/version: {err}"
            else:
                docker = f"v{(version or {}).get('Version', '')}"
        active = "*" if url and os.environ.get("DOCKER_HOST") == url else "-"
        rows.append([name, active, config.get("DriverName", ""), state_, url, "", docker, error])
    widths = [max(5, max(len(r[i]) for r in rows) + 3) for i in range(len(rows[0]) - 1)]
    for row in rows:
        info(("".join(cell.ljust(w) for cell, w in zip(row, widths)) + row[-1]).rstrip())
    return 0


def cmd_env(st: Store, args: list[str]) -> int:
    name = _one([a for a in args if not a.startswith("--shell")])
    config = st.load(name)
    ip = get_ip(config)
    try:
        validate_certificate(config, ip)
    except MachineError as err:
        raise MachineError(f"Error checking TLS connection: {err}") from None
    mdir = st.dir(name)
    for key, value in (
        ("DOCKER_TLS_VERIFY", "1"),
        ("DOCKER_HOST", f"tcp://{ip}:{DOCKER_PORT}"),
        ("DOCKER_CERT_PATH", str(mdir)),
        ("DOCKER_MACHINE_NAME", name),
    ):
        info(f'export {key}="{value}"')
    info("# Run this command to configure your shell: ")
    info(f"# eval $(docker-machine env {name})")
    return 0


def cmd_ssh(st: Store, args: list[str]) -> int:
    if not args:
        raise MachineError('Error: No machine name(s) specified and no "default" machine exists.')
    config = st.load(args[0])
    if vm_state(args[0]) != "Running":
        raise MachineError(f'Error: Cannot run SSH command: Host "{args[0]}" is not running')
    argv = ssh_argv(config, *args[1:])
    os.execvp(argv[0], argv)
    return 1


def cmd_regenerate_certs(st: Store, args: list[str]) -> int:
    force = any(a in ("-f", "--force") for a in args)
    name = _one([a for a in args if a not in ("-f", "--force", "--client-certs")])
    config = st.load(name)
    if not force:
        sys.stdout.write("Regenerate TLS machine certs?  Warning: this is irreversible. (y/n): ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    info("Regenerating TLS certificates")
    info("Waiting for SSH to be available...")
    wait_for_ssh(config, timeout=30)
    info("Detecting the provisioner...")
    configure_auth(config)
    return 0


# The virtualbox driver's boolean flags (v0.16.2): they take no value (Go: `--flag` or `--flag=false`).
VIRTUALBOX_BOOL_FLAGS = (
    "--virtualbox-host-dns-resolver",
    "--virtualbox-no-dns-proxy",
    "--virtualbox-no-share",
    "--virtualbox-no-vtx-check",
    "--virtualbox-hostonly-no-dhcp",
)


def _bool_flag(arg: str) -> bool:
    """`--flag` or `--flag=true|false`, as Go's flag package reads a boolean."""
    return arg.split("=", 1)[1].lower() in ("1", "t", "true") if "=" in arg else True


def setup_hostonly_network() -> None:
    """Start's setupHostOnlyNetwork: VirtualBox 6.1.28+ refuses 192.168.99.1 unless networks.conf
    allows it; docker-machine then stops there, the VM and the store's entry made (half-made)."""
    ipconfig = ("hostonlyif", "ipconfig", HOSTONLY_BRIDGE, "--ip", HOSTONLY_HOST_IP)
    ipconfig += ("--netmask", "255.255.255.0")
    refused = vbm(*ipconfig, check=False)
    if refused.returncode != 0:
        raise MachineError(
            "Error creating machine: Error in driver during machine creation: Error setting up "
            f"host only network on machine start: {vbm_path()} {' '.join(ipconfig)} failed:\n"
            + refused.stderr.strip()
        )


def _create_options(args: list[str]) -> tuple[str, list[str], str, dict[str, bool], list[str]]:
    """`create`'s words: (driver, --tls-san values, storage driver, boolean flags, the rest)."""
    sans: list[str] = []
    driver, storage, rest = "", "", []
    flags: dict[str, bool] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        value = args[i + 1] if i + 1 < len(args) else ""
        if arg in ("-d", "--driver"):
            driver, i = value, i + 2
        elif arg == "--tls-san":
            sans.append(value)
            i += 2
        elif arg == "--engine-storage-driver":
            storage, i = value, i + 2
        elif arg.split("=", 1)[0] in VIRTUALBOX_BOOL_FLAGS:
            flags[arg.split("=", 1)[0]] = _bool_flag(arg)
            i += 1
        elif arg.startswith("--virtualbox-"):
            i += 1 if "=" in arg else 2
        else:
            rest.append(arg)
            i += 1
    return driver, sans, storage, flags, rest


def cmd_create(st: Store, args: list[str]) -> int:
    driver, sans, storage, flags, rest = _create_options(args)
    host_dns = flags.get("--virtualbox-host-dns-resolver", False)
    dns_proxy = not flags.get("--virtualbox-no-dns-proxy", False)
    if driver != "virtualbox" or len(rest) != 1:
        raise MachineError(
            "Error: the lab's docker-machine creates only: create -d virtualbox [--tls-san X]... NAME"
        )
    name = rest[0]
    if (st.dir(name) / "config.json").exists():
        raise MachineError(f'Docker machine "{name}" already exists')
    info("Running pre-create checks...")
    info("Creating machine...")
    paths = LabPaths(default_dir())
    if st.path != paths.store:
        raise MachineError(f"Error: the lab creates machines only in its own store {paths.store}")
    from .lab import create_vm, variant_of  # the lab module imports this one's siblings only

    info(f"({name}) Copying {st.path}/cache/boot2docker.iso to {st.dir(name)}/boot2docker.iso...")
    info(f"({name}) Creating VirtualBox VM...")
    info(f"({name}) Creating SSH key...")
    with state.locked(paths) as lab_state:
        create_vm(paths, lab_state, name, variant_of(), sans, provisioned=False)
    # The driver's CreateVM: `modifyvm NAME ... --natdnshostresolver1 on|off --natdnsproxy1 on|off`.
    on_off = {True: "on", False: "off"}
    vbm(
        "modifyvm",
        name,
        "--natdnshostresolver1",
        on_off[host_dns],
        "--natdnsproxy1",
        on_off[dns_proxy],
    )
    info(f"({name}) Starting the VM...")
    info(f"({name}) Check network to re-create if needed...")
    setup_hostonly_network()
    config = st.load(name)
    if storage:
        config["HostOptions"]["EngineOptions"]["StorageDriver"] = storage
    config["Driver"]["IPAddress"] = ""
    config["Driver"]["HostDNSResolver"] = host_dns
    config["Driver"]["DNSProxy"] = dns_proxy
    st.save(name, config)
    vbm("startvm", name, "--type", "headless")
    info(f"({name}) Waiting for an IP...")
    info("Waiting for machine to be running, this may take a few minutes...")
    info("Detecting operating system of created instance...")
    info("Waiting for SSH to be available...")
    wait_for_ssh(config)
    config["Driver"]["IPAddress"] = get_ip(config)
    st.save(name, config)
    info("Detecting the provisioner...")
    info("Provisioning with boot2docker...")
    try:
        configure_auth(config)
        info("Checking connection to Docker...")
        validate_certificate(config, config["Driver"]["IPAddress"])
    except MachineError as err:
        raise MachineError(f"Error creating machine: Error checking the host: {err}") from None
    info("Docker is up and running!")
    info(
        "To see how to connect your Docker Client to the Docker Engine running on this virtual machine, "
        f"run: docker-machine env {name}"
    )
    return 0


def _one(args: list[str]) -> str:
    names = [a for a in args if not a.startswith("-")]
    if len(names) != 1:
        raise MachineError('Error: No machine name(s) specified and no "default" machine exists.')
    return names[0]


def _option(args: list[str], names: tuple[str, ...], default: str) -> str:
    for i, arg in enumerate(args):
        if arg in names and i + 1 < len(args):
            return args[i + 1]
        for name in names:
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return default


COMMANDS = {
    "status": cmd_status,
    "ip": cmd_ip,
    "url": cmd_url,
    "inspect": cmd_inspect,
    "start": cmd_start,
    "stop": cmd_stop,
    "ls": cmd_ls,
    "env": cmd_env,
    "ssh": cmd_ssh,
    "regenerate-certs": cmd_regenerate_certs,
    "create": cmd_create,
}


def _enter_host_namespace(argv: list[str]) -> None:
    """Run on the lab's Mac: re-exec inside dvhlab-host when started from another namespace."""
    try:
        here = os.stat("/proc/self/ns/net").st_ino
        host = os.stat(netns_path(HOST_NS)).st_ino
    except OSError:
        return
    if here != host:
        cmd = [
            "nsenter",
            f"--net={netns_path(HOST_NS)}",
            sys.executable,
            "-m",
            __spec__.name,
            *argv,
        ]
        os.execvp(cmd[0], cmd)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    _enter_host_namespace(args)
    storage = os.environ.get("MACHINE_STORAGE_PATH") or str(Path.home() / ".docker" / "machine")
    while args and args[0].startswith("-"):
        flag = args.pop(0)
        if flag in ("-s", "--storage-path") and args:
            storage = args.pop(0)
        elif flag.startswith("--storage-path="):
            storage = flag.split("=", 1)[1]
        elif flag in ("-v", "--version"):
            info(VERSION)
            return 0
    if not args or args[0] in ("help", "-h", "--help"):
        info("Usage: docker-machine [OPTIONS] COMMAND [arg...]\n\nCommands: " + ", ".join(COMMANDS))
        return 0 if args else 1
    if args[0] == "version":
        info(VERSION)
        return 0
    command = COMMANDS.get(args[0])
    if command is None:
        sys.stderr.write(
            f"docker-machine: '{args[0]}' is not a docker-machine command.\nSee 'docker-machine --help'.\n"
        )
        return 1
    try:
        return command(Store(Path(storage)), args[1:])
    except MachineError as err:
        sys.stderr.write(f"{err}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
