"""One NAT port-forward, the way VirtualBox's NAT engine runs it: a long-lived relay that listens
on the host side and dials each connection from INSIDE the guest's network namespace.

No process per connection (socat + nsenter per connection cost ~0.2 s of every SSH handshake,
which VirtualBox does not). Standalone (stdlib only), started by natpf.start in the lab's host
namespace:  natfwd.py HOSTIP HOSTPORT GUEST_NETNS_PATH GUESTIP GUESTPORT
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import sys
import threading

CLONE_NEWNET = 0x40000000
PR_SET_NAME = 15
_libc = ctypes.CDLL(None, use_errno=True)


def enter_netns(path: str) -> None:
    """Move the calling thread (only it) into the network namespace at `path`."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), path)
    finally:
        os.close(fd)


def pump(source: socket.socket, sink: socket.socket, *, ack_at_once: bool = False) -> None:
    """Copy until EOF, then pass the half-close on (TLS and SSH both rely on it).

    `ack_at_once` for the guest's side: VirtualBox's NAT TCP (slirp, tcp_input.c DELAY_ACK)
    ACKs every pushed segment at once, where Linux would delay the ACK up to 40 ms; against
    sshd's Nagle (on for non-interactive sessions) that delay stalls SSH by ~40 ms (measured:
    the first channel of every connection). TCP_QUICKACK must be re-armed after each read.
    """
    quickack = getattr(socket, "TCP_QUICKACK", None) if ack_at_once else None
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            if quickack is not None:
                source.setsockopt(socket.IPPROTO_TCP, quickack, 1)
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


def relay(client: socket.socket, netns: str, address: tuple[str, int]) -> None:
    with client:
        try:
            enter_netns(netns)  # a fresh thread: the listener's thread stays on the host side
            upstream = socket.create_connection(address)
        except OSError:
            return  # nothing listens in the guest: the host side just sees the connection close
        with upstream:
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            back = threading.Thread(
                target=pump, args=(upstream, client), kwargs={"ack_at_once": True}, daemon=True
            )
            back.start()
            pump(client, upstream)
            back.join()


def main(argv: list[str]) -> int:
    host_ip, host_port, netns, guest_ip, guest_port = argv
    # Named like a program of its own (not `python3`), as VirtualBox's NAT engine is its VM's
    # process: the tool tells the VM's forward from another program on the port by its name.
    _libc.prctl(PR_SET_NAME, b"natfwd", 0, 0, 0)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host_ip, int(host_port)))
    except OSError as exc:  # taken: VirtualBox keeps the rule and forwards nothing
        print(f"natfwd: cannot listen on {host_ip}:{host_port}: {exc.strerror}", file=sys.stderr)
        return 1
    listener.listen(128)
    while True:
        client, _ = listener.accept()
        args = (client, netns, (guest_ip, int(guest_port)))
        threading.Thread(target=relay, args=args, daemon=True).start()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
