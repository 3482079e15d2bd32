"""One NAT port-forward, the way VirtualBox's NAT engine runs it: a long-lived relay that listens
on the host side and reaches the guest from INSIDE the guest's network namespace.

TCP: each accepted connection is dialled from the guest's namespace. UDP: each host-side peer
gets its own socket in the guest's namespace; datagrams go both ways, and the host-side peer sees
the replies come from the forwarded port (as from VirtualBox's NAT, whose UDP "sessions" expire
after SO_EXPIRE, 240 s, without traffic).

As on VirtualBox, whose NAT delivers to the guest's eth0: a guest IP in 127.0.0.0/8 reaches
nothing (the guest drops such packets as martians), so a service bound only to the guest's
loopback cannot be forwarded to.

No process per connection (socat + nsenter per connection cost ~0.2 s of every SSH handshake,
which VirtualBox does not). Standalone (stdlib only), started by natpf.start in the lab's host
namespace:  natfwd.py HOSTIP HOSTPORT GUEST_NETNS_PATH GUESTIP GUESTPORT [tcp|udp]
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import os
import select
import socket
import sys
import threading
import time

CLONE_NEWNET = 0x40000000
PR_SET_NAME = 15
UDP_EXPIRE = 240.0  # slirp's SO_EXPIRE: an idle UDP "session" is dropped after 4 minutes
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


def serve_tcp(listener: socket.socket, netns: str, guest: tuple[str, int] | None) -> None:
    listener.listen(128)
    while True:
        client, _ = listener.accept()
        if guest is None:  # undeliverable: the connection opens and closes at once
            client.close()
            continue
        threading.Thread(target=relay, args=(client, netns, guest), daemon=True).start()


def serve_udp(listener: socket.socket, netns: str, guest: tuple[str, int] | None) -> None:
    """Datagrams both ways, one guest-side socket per host-side peer. Runs in its own thread,
    which enters the guest's namespace: the sockets it opens live there, the listener stays on
    the host side (and so does the main thread, so /proc/PID/net shows the host's sockets)."""
    enter_netns(netns)
    peers: dict[socket.socket, tuple[str, int]] = {}
    sessions: dict[tuple[str, int], tuple[socket.socket, float]] = {}
    while True:
        readable, _, _ = select.select([listener, *peers], [], [], 5.0)
        now = time.monotonic()
        for sock in readable:
            if sock is listener:
                data, peer = listener.recvfrom(65535)
                if guest is None:
                    continue
                upstream = sessions.get(peer, (None, 0.0))[0]
                if upstream is None:
                    upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    try:
                        upstream.connect(guest)
                    except OSError:  # no route in the guest (its NIC is down): dropped
                        upstream.close()
                        continue
                    peers[upstream] = peer
                sessions[peer] = (upstream, now)
                with contextlib.suppress(OSError):  # e.g. ECONNREFUSED from an earlier ICMP
                    upstream.send(data)
            else:
                peer = peers[sock]
                with contextlib.suppress(OSError):
                    listener.sendto(sock.recv(65535), peer)
                sessions[peer] = (sock, now)
        for peer, (sock, last) in list(sessions.items()):
            if now - last > UDP_EXPIRE:
                del sessions[peer], peers[sock]
                sock.close()


def main(argv: list[str]) -> int:
    host_ip, host_port, netns, guest_ip, guest_port, *rest = argv
    proto = rest[0] if rest else "tcp"
    # Named like a program of its own (not `python3`), as VirtualBox's NAT engine is its VM's
    # process: the tool tells the VM's forward from another program on the port by its name.
    _libc.prctl(PR_SET_NAME, b"natfwd", 0, 0, 0)
    kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
    listener = socket.socket(socket.AF_INET, kind)
    if proto == "tcp":  # TIME_WAIT must not keep a re-added rule from listening
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host_ip, int(host_port)))
    except OSError as exc:  # taken: VirtualBox keeps the rule and forwards nothing
        print(
            f"natfwd: cannot listen on {host_ip}:{host_port}/{proto}: {exc.strerror}",
            file=sys.stderr,
        )
        return 1
    deliverable = not ipaddress.ip_address(guest_ip).is_loopback
    guest = (guest_ip, int(guest_port)) if deliverable else None
    if proto == "udp":
        worker = threading.Thread(target=serve_udp, args=(listener, netns, guest), daemon=True)
        worker.start()
        worker.join()
        return 1  # the worker died (e.g. the guest's namespace is gone)
    serve_tcp(listener, netns, guest)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
