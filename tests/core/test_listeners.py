"""Who listens on a port, from Linux's /proc/net/tcp and macOS's lsof."""

from __future__ import annotations

from docker_vpn_helper.core.listeners import (
    Listener,
    forwards_for_the_vm,
    listening_inodes,
    parse_lsof,
    socket_inode,
    unnamed_holder,
)

# 127.0.0.1:2376 and 0.0.0.0:2377 listening, 127.0.0.1:2378 connected (not listening).
PROC_NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0948 00000000:0000 0A 00000000:00000000 00:00000000 00000000   501        0 41001 1 0000000000000000 100 0 0 10 0
   1: 00000000:0949 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41002 1 0000000000000000 100 0 0 10 0
   2: 0100007F:094A 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000   501        0 41003 1 0000000000000000 20 4 30 10 -1
   3: 0200A8C0:0948 00000000:0000 0A 00000000:00000000 00:00000000 00000000   501        0 41004 1 0000000000000000 100 0 0 10 0
"""
PROC_NET_TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:094A 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 52001 1 0000000000000000 100 0 0 10 0
"""


def test_listeners_on_loopback_or_every_address_hold_the_port():
    assert listening_inodes(PROC_NET_TCP, 2376) == {41001}  # not 192.168.0.2's
    assert listening_inodes(PROC_NET_TCP, 2377) == {41002}
    assert listening_inodes(PROC_NET_TCP, 2378) == set()  # a connection, not a listener
    assert listening_inodes(PROC_NET_TCP6, 2378) == {52001}


def test_fd_links_name_sockets():
    assert socket_inode("socket:[41001]") == 41001
    assert socket_inode("/dev/null") is None and socket_inode("pipe:[3]") is None


def test_lsof_fields():
    text = "p812\ncVBoxHeadless\nf23\np4242\ncssh\n"
    assert parse_lsof(text) == [Listener(812, "VBoxHeadless"), Listener(4242, "ssh")]
    assert parse_lsof("") == []


def test_the_vms_forward_is_the_process_that_also_forwards_its_ssh_port():
    vm = Listener(812, "VBoxHeadless")
    assert forwards_for_the_vm(vm, [vm])
    assert not forwards_for_the_vm(Listener(900, "VBoxHeadless"), [vm])  # another VM's
    assert forwards_for_the_vm(Listener(900, "VBoxHeadless"), [])  # cannot tell: VirtualBox's
    assert not forwards_for_the_vm(Listener(4242, "ssh"), [vm])
    assert not forwards_for_the_vm(Listener(None), [vm])
    relay = Listener(77, "natfwd")  # a NAT engine with one process per rule (the lab's)
    assert forwards_for_the_vm(relay, [Listener(78, "natfwd")])
    assert Listener(None).describe() == "a program of another user"
    assert vm.describe() == "VBoxHeadless (pid 812)"


def test_an_unnamed_holder_comes_with_the_command_that_names_it():
    assert unnamed_holder(2376) == "another program (see `lsof -nP -iTCP:2376 -sTCP:LISTEN`)"
    assert unnamed_holder(5353, "udp") == "another program (see `lsof -nP -iUDP:5353`)"
