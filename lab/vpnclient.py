"""The fake VPN's client: holds the tunnel (utun0) open, as Cisco AnyConnect's agent holds its utun.

Run inside the lab's Mac (`nsenter --net=<ns>-host python -I -S vpnclient.py utun0`). While it
runs the tunnel has a carrier: the VPN is connected, and `routes.restore` refuses to take its
route. It reads and drops every packet the Mac sends into the tunnel (nothing answers, as behind a
VPN that does not route the host-only network). Killing it is the client quitting: the tunnel
stays, dead.
"""

from __future__ import annotations

import fcntl
import os
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000


def main(device: str) -> None:
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", device.encode(), IFF_TUN | IFF_NO_PI))
    print(f"attached to {device}", flush=True)
    while True:
        os.read(fd, 65536)


if __name__ == "__main__":
    main(sys.argv[1])
