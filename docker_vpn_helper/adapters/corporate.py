"""The host's extra trusted roots and its proxy, read where each platform keeps them.

macOS: `security find-certificate -a -p` on the System keychain (what an administrator or MDM
installed) and on the login keychain, kept only where `security dump-trust-settings` (admin
domain `-d` for the System keychain, the user's domain for the login keychain) trusts them for
TLS; Apple's built-in roots (the system domain) are never read. The system proxy comes from
`scutil --proxy`. Linux: the local additions in /usr/local/share/ca-certificates. Everywhere:
the PEM bundle the setting `vpnhelper.ca_bundle` names, and the proxy from the environment or
the setting `vpnhelper.proxy`. Nothing here sends traffic anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..core import proxy, trust
from ..errors import HelperError
from .host import platform, run

if TYPE_CHECKING:
    from invoke import Context

SYSTEM_KEYCHAIN = "/Library/Keychains/System.keychain"
LOGIN_KEYCHAIN = "Library/Keychains/login.keychain-db"  # under $HOME
LINUX_LOCAL_ROOTS = Path("/usr/local/share/ca-certificates")  # update-ca-certificates' own input
NO_TRUST_SETTINGS = "No Trust Settings were found"
SECURITY_TIMEOUT = 30.0


def security_commands(home: str) -> list[tuple[list[str], list[str], str]]:
    """(find-certificate argv, dump-trust-settings argv, trust domain) per keychain read."""
    login = str(Path(home) / LOGIN_KEYCHAIN)
    return [
        (
            ["security", "find-certificate", "-a", "-p", SYSTEM_KEYCHAIN],
            ["security", "dump-trust-settings", "-d"],
            "admin",
        ),
        (
            ["security", "find-certificate", "-a", "-p", login],
            ["security", "dump-trust-settings"],
            "user",
        ),
    ]


def _security(c: Context, argv: list[str]) -> str:
    out = run(c, argv, timeout=SECURITY_TIMEOUT, what="security")
    if out.ok:
        return out.stdout
    if NO_TRUST_SETTINGS in out.stderr + out.stdout:
        return ""  # no certificate has trust settings in that domain
    if argv[1] == "find-certificate" and not Path(argv[-1]).exists():
        return ""  # no such keychain (a login keychain of another layout)
    raise HelperError(f"`{' '.join(argv)}` failed: {out.last_line()}")


def keychain_roots(c: Context, home: str) -> trust.Found:
    """The keychains' CA certificates that their trust settings trust for TLS."""
    found = trust.Found()
    for find, dump, domain in security_commands(home):
        pems = trust.read_pem(_security(c, find).encode(), Path(find[-1]).name)
        settings = trust.parse_trust_settings(_security(c, dump))
        found += trust.trusted_by_label(pems, settings, domain)
    return found


def local_roots(folder: Path | None = None) -> trust.Found:
    """Linux's local additions: every *.crt below the folder, as update-ca-certificates reads."""
    folder = LINUX_LOCAL_ROOTS if folder is None else folder
    found = trust.Found()
    if not folder.is_dir():
        return found
    for path in sorted(folder.rglob("*.crt")):
        try:
            data = path.read_bytes()
        except OSError as exc:
            found += trust.Found(skipped=(f"{path}: {exc.strerror}",))
            continue
        found += trust.read_pem(data, str(path))
    return found


def bundle_roots(path: str) -> trust.Found:
    """The PEM bundle the setting vpnhelper.ca_bundle names."""
    bundle = Path(path).expanduser()
    try:
        data = bundle.read_bytes()
    except OSError as exc:
        raise HelperError(
            f"vpnhelper.ca_bundle names {bundle}, which cannot be read ({exc.strerror}): fix the "
            "setting (INVOKE_VPNHELPER_CA_BUNDLE) or remove it"
        ) from None
    found = trust.read_pem(data, str(bundle))
    if not found.roots and not found.skipped:
        raise HelperError(f"vpnhelper.ca_bundle names {bundle}, which holds no PEM certificate")
    return found


def host_roots(c: Context, ca_bundle: str | None, home: str | None = None) -> trust.Found:
    """The host's extra roots, each once: the platform's, then the configured bundle's."""
    if platform() == "macos":
        found = keychain_roots(c, home or os.path.expanduser("~"))
    else:
        found = local_roots()
    if ca_bundle:
        found += bundle_roots(ca_bundle)
    return trust.Found(trust.unique(found.roots), found.skipped)


def host_proxy(
    c: Context, setting: str, environ: Mapping[str, str] = os.environ
) -> proxy.HostProxy:
    """macOS's system proxy, else the environment's, else the setting's."""
    system = proxy.HostProxy()
    if platform() == "macos":
        out = run(c, ["scutil", "--proxy"], timeout=10, what="scutil")
        if out.ok:
            system = proxy.parse_scutil_proxy(out.stdout)
    return proxy.first(system, proxy.from_environment(environ), proxy.from_setting(setting))
