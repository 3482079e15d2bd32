#!/bin/sh
# What a VirtualBox NAT port-forward does for one connection: reach the guest port from inside the
# guest (its network namespace $1, address $2, port $3). socat EXECs this per accepted connection.
exec nsenter --net="$1" socat STDIO "TCP4:$2:$3"
