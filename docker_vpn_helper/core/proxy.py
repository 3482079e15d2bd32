"""The host's HTTP proxy, as the VM's daemon must use it. Pure.

Where it comes from, first found wins: macOS's system proxy (`scutil --proxy`), the environment
(HTTP_PROXY / HTTPS_PROXY / NO_PROXY, upper case first, as Go reads them), the setting
`vpnhelper.proxy`. A PAC file (ProxyAutoConfigURLString) is not evaluated: out of scope.

In the VM, 127.0.0.1 is the VM itself: a proxy on the host's loopback (cntlm, px, a SASE
client's local proxy) is reached as VirtualBox's NAT gateway, 10.0.2.2. NO_PROXY always keeps
the VM's own addresses, localhost, 127.0.0.1 and the docker bridge away from the proxy.

The daemon reads the proxy from `/var/lib/boot2docker/profile`, which its init script sources:
our `export` lines live there between two marker comments, rewritten in place, the user's own
lines kept as they are. Credentials in a proxy URL are never printed: `mask` hides them.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from .profile import parse_profile

NAT_GATEWAY = "10.0.2.2"  # the host, as VirtualBox's NAT shows it to the guest
NAT_GUEST = "10.0.2.15"  # the guest's own NAT address
DOCKER_BRIDGE = "172.17.0.0/16"  # docker0's default network
ALWAYS_DIRECT = ("localhost", "127.0.0.1")
VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")
BEGIN = "# docker-vpn-helper: the host's proxy, rewritten by fix (a line of yours below wins)"
END = "# docker-vpn-helper: end of the host's proxy"


@dataclass(frozen=True)
class HostProxy:
    """The proxy the host uses: URLs ("" for none), its exceptions and where they came from."""

    http: str = ""
    https: str = ""
    exceptions: tuple[str, ...] = ()
    source: str = ""  # "the system proxy (scutil --proxy)", "the environment", "setting ..."
    pac: str = ""  # a PAC URL the system proxy names (not evaluated)

    @property
    def any(self) -> bool:
        return bool(self.http or self.https)


def parse_scutil_proxy(text: str) -> HostProxy:
    """`scutil --proxy` (a dictionary dump) as a HostProxy:

    <dictionary> {
      ExceptionsList : <array> {
        0 : *.local
        1 : 169.254/16
      }
      HTTPEnable : 1
      HTTPPort : 3128
      HTTPProxy : proxy.corp
      ...
    }
    """
    values: dict[str, str] = {}
    exceptions: list[str] = []
    in_exceptions = False
    for raw in text.splitlines():
        line = raw.strip()
        if in_exceptions:
            if line.startswith("}"):
                in_exceptions = False
            elif " : " in line:
                exceptions.append(line.split(" : ", 1)[1].strip())
            continue
        key, sep, value = line.partition(" : ")
        if not sep:
            continue
        if key == "ExceptionsList" and value.startswith("<array>"):
            in_exceptions = True
        else:
            values[key.strip()] = value.strip()

    def url(kind: str) -> str:
        host = values.get(f"{kind}Proxy", "")
        if values.get(f"{kind}Enable") != "1" or not host:
            return ""
        port = values.get(f"{kind}Port", "")
        return f"http://{_host_part(host)}" + (f":{port}" if port else "")

    pac = (
        values.get("ProxyAutoConfigURLString", "")
        if values.get("ProxyAutoConfigEnable") == "1"
        else ""
    )
    simple = ("<local>",) if values.get("ExcludeSimpleHostnames") == "1" else ()
    return HostProxy(
        url("HTTP"),
        url("HTTPS"),
        tuple(exceptions) + simple,
        "the system proxy (scutil --proxy)",
        pac,
    )


def _host_part(host: str) -> str:
    """An IPv6 address in brackets, as a URL needs it."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def from_environment(environ: Mapping[str, str]) -> HostProxy:
    """HTTP_PROXY / HTTPS_PROXY / NO_PROXY, else their lower-case forms (Go reads both)."""

    def get(name: str) -> str:
        return (environ.get(name) or environ.get(name.lower()) or "").strip()

    http, https = get("HTTP_PROXY"), get("HTTPS_PROXY")
    if not (http or https):
        return HostProxy()
    exceptions = tuple(p.strip() for p in get("NO_PROXY").split(",") if p.strip())
    return HostProxy(_with_scheme(http), _with_scheme(https), exceptions, "the environment")


def from_setting(url: str) -> HostProxy:
    """The setting vpnhelper.proxy: one URL for HTTP and HTTPS."""
    url = _with_scheme(url.strip())
    return HostProxy(url, url, (), "the setting vpnhelper.proxy") if url else HostProxy()


def _with_scheme(url: str) -> str:
    """`proxy:3128` as `http://proxy:3128` (what a proxy variable without a scheme means)."""
    return url if not url or "://" in url else f"http://{url}"


def first(*candidates: HostProxy) -> HostProxy:
    """The first source that names a proxy; else a system proxy with only a PAC file (its
    note says why nothing follows)."""
    for candidate in candidates:
        if candidate.any:
            return candidate
    return next((c for c in candidates if c.pac), HostProxy())


def is_loopback_host(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def for_the_vm(url: str) -> str:
    """A proxy URL as the VM must write it: a host on the host's loopback becomes 10.0.2.2."""
    if not url:
        return ""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not is_loopback_host(host):
        return url
    userinfo, _, _ = parts.netloc.rpartition("@")
    port = f":{parts.port}" if parts.port else ""
    netloc = (f"{userinfo}@" if userinfo else "") + NAT_GATEWAY + port
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def mask(url: str) -> str:
    """The URL without its credentials: `http://****@proxy:3128` (never print a password)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    netloc = "****@" + parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def mask_text(text: str) -> str:
    """Every `scheme://user:password@` in free text masked (profile lines, error messages)."""
    return re.sub(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s'\"]+@", r"\1****@", text)


def _exception_for_go(entry: str) -> str:
    """A macOS proxy exception as Go's NO_PROXY reads it: `*.local` -> `.local`,
    `169.254/16` -> `169.254.0.0/16`; `<local>` (simple host names) has no equivalent."""
    entry = entry.strip()
    if entry.startswith("*."):
        return entry[1:]
    if "/" in entry:
        address, _, bits = entry.partition("/")
        octets = address.split(".")
        if bits.isdigit() and all(o.isdigit() for o in octets) and len(octets) < 4:
            return ".".join(octets + ["0"] * (4 - len(octets))) + f"/{bits}"
    return entry


def no_proxy(exceptions: Sequence[str], vm_addresses: Sequence[str]) -> str:
    """NO_PROXY for the VM: the host's exceptions, the VM's own addresses, localhost, 127.0.0.1
    and the docker bridge, each once, in that order."""
    entries = [_exception_for_go(e) for e in exceptions if e and e != "<local>"]
    entries += [a for a in vm_addresses if a]
    entries += [*ALWAYS_DIRECT, NAT_GUEST, DOCKER_BRIDGE]
    return ",".join(dict.fromkeys(entries))


@dataclass(frozen=True)
class VMProxy:
    """What the profile should export: {variable: value} (empty: no proxy lines of ours)."""

    values: tuple[tuple[str, str], ...] = ()

    def lines(self) -> list[str]:
        return [f"export {name}={shlex.quote(value)}" for name, value in self.values]

    def masked_lines(self) -> list[str]:
        return [mask_text(line) for line in self.lines()]


def wanted(host: HostProxy, vm_addresses: Sequence[str]) -> VMProxy:
    """The profile's proxy variables for the host's proxy ({} when the host uses none)."""
    if not host.any:
        return VMProxy()
    pairs = []
    if host.http:
        pairs.append(("HTTP_PROXY", for_the_vm(host.http)))
    if host.https:
        pairs.append(("HTTPS_PROXY", for_the_vm(host.https)))
    pairs.append(("NO_PROXY", no_proxy(host.exceptions, vm_addresses)))
    return VMProxy(tuple(pairs))


def edit_profile(profile: str, proxy: VMProxy) -> str:
    """The profile with our block holding `proxy`'s lines: replaced where it is, appended at
    the end (so it wins over earlier lines) when new, removed when `proxy` is empty. Every
    other line, the user's own proxy lines too, stays exactly as it was."""
    lines = profile.splitlines(keepends=True)
    marks = [line.strip() for line in lines]
    block = [f"{line}\n" for line in (BEGIN, *proxy.lines(), END)] if proxy.values else []
    if BEGIN in marks and END in marks[marks.index(BEGIN) :]:
        start = marks.index(BEGIN)
        end = marks.index(END, start)
        return "".join([*lines[:start], *block, *lines[end + 1 :]])
    if not block:
        return profile
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    spacer = ["\n"] if lines and lines[-1].strip() else []
    return "".join([*lines, *spacer, *block])


def effective(profile: str) -> dict[str, str]:
    """The proxy variables the daemon gets from a profile (the last assignment wins)."""
    values = parse_profile(profile)
    return {name: values[name] for name in VARIABLES if values.get(name)}
