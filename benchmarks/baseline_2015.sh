#!/bin/bash
# The 2015 helper's approach, reimplemented from its description to have a baseline to beat.
#
# It checks nothing it could skip: every run asks docker-machine and VBoxManage, reads the served
# certificate, then issues a new one with openssl (localhost and 127.0.0.1 in subjectAltName,
# signed by the store's CA), uploads it with `docker-machine ssh ... sudo tee`, restarts the
# daemon and prints the environment. Each `docker-machine ssh` is a separate SSH connection.
# Like the original it does not wait for the daemon to answer after the restart, so its wall
# time is a lower bound of what it really costs.
#
# usage: baseline_2015.sh MACHINE STORE_PATH
set -eu

name=$1
store=$2
ca_cert=$store/certs/ca.pem
ca_key=$store/certs/ca-key.pem
config=$store/machines/$name/config.json
remote_dir=/var/lib/boot2docker

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

dm() { docker-machine --storage-path "$store" "$@"; }

state=$(dm status "$name")
if [ "$state" != Running ]; then
    echo "machine $name is $state, not Running" >&2
    exit 1
fi

# The NAT rule for the daemon: added only when missing (the lab machine has it by now).
VBoxManage showvminfo "$name" --machinereadable >"$work/vminfo"
if ! grep -q '^Forwarding.*="docker,tcp,127.0.0.1,2376,,2376"' "$work/vminfo"; then
    VBoxManage controlvm "$name" natpf1 "docker,tcp,127.0.0.1,2376,,2376"
fi

# What the daemon serves now: reported, then replaced anyway.
dm ssh "$name" "sudo cat $remote_dir/server.pem" >"$work/current.pem"
if openssl x509 -in "$work/current.pem" -noout -text | grep -q 'IP Address:127.0.0.1'; then
    echo "the current certificate already names 127.0.0.1 (re-issuing anyway)" >&2
else
    echo "the current certificate does not name 127.0.0.1" >&2
fi

# A new key, a CSR, and the CA's signature with the names the VPN-proof client needs.
ip=$(sed -n 's/.*"IPAddress": *"\([^"]*\)".*/\1/p' "$config" | head -n 1)
openssl genrsa -out "$work/server-key.pem" 2048 2>/dev/null
openssl req -new -key "$work/server-key.pem" -subj "/O=${USER:-root}.$name" \
    -out "$work/server.csr"
printf 'subjectAltName=DNS:localhost,DNS:%s,IP:127.0.0.1,IP:%s\nextendedKeyUsage=serverAuth,clientAuth\n' \
    "$name" "$ip" >"$work/extfile.cnf"
openssl x509 -req -days 1095 -in "$work/server.csr" -CA "$ca_cert" -CAkey "$ca_key" \
    -CAcreateserial -CAserial "$work/ca.srl" -extfile "$work/extfile.cnf" \
    -out "$work/server.pem" 2>/dev/null

# Upload (one SSH connection per file) and restart the daemon (another one).
dm ssh "$name" "sudo tee $remote_dir/server.pem >/dev/null" <"$work/server.pem"
dm ssh "$name" "sudo tee $remote_dir/server-key.pem >/dev/null" <"$work/server-key.pem"
dm ssh "$name" "sudo /etc/init.d/docker restart" >/dev/null

vm_ip=$(dm ip "$name")
echo "export DOCKER_TLS_VERIFY=\"1\""
echo "export DOCKER_HOST=\"tcp://localhost:2376\""
echo "export DOCKER_CERT_PATH=\"$store/machines/$name\""
echo "export DOCKER_MACHINE_NAME=\"$name\""
echo "# VM address: $vm_ip"
