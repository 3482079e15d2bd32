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

The other direction, the NAT's own addresses as the guest sees them (natpf.start_gateway, one
per running VM, ending with it):
    natfwd.py gateway VM_PID GUEST_NETNS HOST_NETNS TCPPORT UDPPORT REACHABLE MAPPINGS
Connections the guest makes to 10.0.2.2 (redirected to TCPPORT in the guest by iptables) reach
the host's 127.0.0.1 when REACHABLE is 1, else are closed at once; DNS queries to 10.0.2.3:53
(redirected to UDPPORT) are answered from MAPPINGS (JSON, [[pattern, address], ...], empty
when the NAT's host resolver is off): an A record for a name a pattern matches, NXDOMAIN for
every other name (the lab has no DNS server behind it).
"""

from __future__ import annotations

import contextlib
import ctypes
import fnmatch
import ipaddress
import json
import os
import select
import socket
import struct
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


SO_ORIGINAL_DST = 80  # linux/netfilter_ipv4.h: where a REDIRECTed connection was going
NAT_GATEWAY = "10.0.2.2"


def original_port(client: socket.socket) -> tuple[str, int]:
    raw = client.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    port, address = struct.unpack_from("!2xH4s", raw)
    return socket.inet_ntoa(address), port


def serve_gateway(listener: socket.socket, host_netns: str, reachable: bool) -> None:
    """10.0.2.2:PORT from the guest -> the host's 127.0.0.1:PORT (VirtualBox's NAT maps its
    gateway to the host's loopback), or a closed connection where the NAT does not."""
    listener.listen(128)
    while True:
        client, _ = listener.accept()
        address, port = original_port(client)
        if address != NAT_GATEWAY or not reachable:  # reset, as a refused connection is
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()
            continue
        target = ("127.0.0.1", port)
        threading.Thread(target=relay, args=(client, host_netns, target), daemon=True).start()


def dns_answer(query: bytes, mappings: list[list[str]]) -> bytes | None:
    """The answer to one DNS query: an A record from the first matching pattern (VirtualBox's
    HostNamePattern: `|`-separated, `*` and `?` wildcards, any case), no record for another
    type of a mapped name, NXDOMAIN otherwise. By hand: the relay runs without site-packages
    (python -I -S, stdlib only), where no DNS library is."""
    if len(query) < 17:
        return None
    ident, flags, qdcount = struct.unpack_from("!HHH", query)
    labels, i = [], 12
    while i < len(query) and query[i]:
        labels.append(query[i + 1 : i + 1 + query[i]].decode("ascii", "replace"))
        i += 1 + query[i]
    end = i + 5
    if flags & 0x8000 or qdcount != 1 or end > len(query):
        return None
    qtype = struct.unpack_from("!H", query, i + 1)[0]
    name = ".".join(labels).lower()
    address = next(
        (
            ip
            for pattern, ip in mappings
            if any(fnmatch.fnmatchcase(name, p.lower()) for p in pattern.split("|"))
        ),
        None,
    )
    rcode = 0 if address else 3
    answers = 1 if address and qtype == 1 else 0
    header = struct.pack("!HHHHHH", ident, 0x8180 | (flags & 0x0100) | rcode, 1, answers, 0, 0)
    body = query[12:end]
    if answers:
        body += struct.pack("!HHHIH", 0xC00C, 1, 1, 1, 4) + socket.inet_aton(address or "")
    return header + body


def serve_dns(sock: socket.socket, mappings: list[list[str]]) -> None:
    while True:
        query, peer = sock.recvfrom(512)
        answer = dns_answer(query, mappings)
        if answer:
            with contextlib.suppress(OSError):
                sock.sendto(answer, peer)


def outlive(pid: int) -> None:
    """End this process once the VM's process is gone (a zombie counts as gone), as the NAT
    engine ends with its VM; its listeners would otherwise keep the guest's namespace alive."""
    while True:
        try:
            with open(f"/proc/{pid}/status") as status:
                if any(line.startswith("State:\tZ") for line in status):
                    break
        except OSError:
            break
        time.sleep(0.5)
    os._exit(0)


def gateway(argv: list[str]) -> int:
    vm_pid, guest_netns, host_netns, tcp_port, udp_port, reachable, mappings = argv
    _libc.prctl(PR_SET_NAME, b"natfwd", 0, 0, 0)
    threading.Thread(target=outlive, args=(int(vm_pid),), daemon=True).start()
    enter_netns(guest_netns)  # the listeners live in the guest, behind its iptables REDIRECT
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", int(tcp_port)))
    dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dns.bind(("0.0.0.0", int(udp_port)))
    resolver = threading.Thread(target=serve_dns, args=(dns, json.loads(mappings)), daemon=True)
    resolver.start()
    serve_gateway(listener, host_netns, reachable == "1")
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["gateway"]:
        return gateway(argv[1:])
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
