#!/bin/sh
# Stage 1 of a lab guest's boot (see lab/guest.py). Runs under tini inside fresh
# mount, UTS and PID namespaces and the guest's network namespace; $1 is the VM's folder on the host.
# It builds the VM's root file system in RAM, like boot2docker's ISO does, and pivots into it, so
# nothing the guest does (users, sudoers, /etc/docker, /run/docker) can reach the real host.
set -eu
vm=$1
root=$vm/root

mount -t tmpfs -o mode=0755 rootfs "$root"
cd "$root"
mkdir -p etc home root tmp run usr proc sys dev mnt/sda1 oldroot \
    var/lib/boot2docker var/lib/docker var/log var/tmp var/spool/mail var/cache
chmod 1777 tmp var/tmp
ln -s ../run var/run
ln -s ../run/lock var/lock

# The "ISO": the host's programs, read-only.
mount --bind /usr usr
mount -o remount,bind,ro usr
for dir in bin sbin lib lib32 lib64 libx32; do
    if [ -L "/$dir" ]; then
        ln -s "$(readlink "/$dir")" "$dir"
    elif [ -d "/$dir" ]; then
        mkdir "$dir" && mount --bind "/$dir" "$dir" && mount -o remount,bind,ro "$dir"
    fi
done
cp -a /etc/. etc/
rm -f etc/os-release etc/hostname etc/machine-id
cp "$vm/iso/os-release" etc/os-release
cp "$vm/iso/sshd_config" etc/ssh/sshd_config
cp "$vm/iso/lab.conf" etc/lab.conf
mkdir -p etc/rc.d etc/lab
cp "$vm/iso/dockerd.sh" etc/lab/dockerd.sh
# The guest's kind: boot2docker (/etc/init.d/docker) or minikube's ISO (systemd's systemctl,
# first on PATH in a tmpfs over /usr/local/sbin, and the API server).
if [ -f "$vm/iso/rc.minikube" ]; then
    rc=minikube
    mount -t tmpfs -o mode=0755 lab-sbin usr/local/sbin
    cp "$vm/iso/systemctl" usr/local/sbin/systemctl
    cp "$vm/iso/apiserver.py" etc/lab/apiserver.py
else
    rc=boot2docker
    cp "$vm/iso/docker.init" etc/init.d/docker
    chmod 0755 etc/init.d/docker
fi
cp "$vm/iso/rc.$rc" etc/rc.d/boot
chmod 0755 etc/rc.d/boot
hostname=$(cat "$vm/iso/hostname" 2>/dev/null || echo boot2docker)
printf '%s\n' "$hostname" > etc/hostname
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n' "$hostname" > etc/hosts
# What VirtualBox's NAT DHCP gives the guest: its DNS at 10.0.2.3 (the copy may be a link).
rm -f etc/resolv.conf
printf 'nameserver 10.0.2.3\n' > etc/resolv.conf

# The persistent disk: only /var/lib/boot2docker and /var/lib/docker survive a reboot.
mount --bind "$vm/disk" mnt/sda1
mkdir -p mnt/sda1/var/lib/boot2docker mnt/sda1/var/lib/docker
mount --bind mnt/sda1/var/lib/boot2docker var/lib/boot2docker
mount --bind mnt/sda1/var/lib/docker var/lib/docker
# More persistent folders, one a line (the minikube guest's /etc/docker, its unit's drop-in and
# /var/lib/minikube).
if [ -f "$vm/iso/persist" ]; then
    while read -r dir; do
        mkdir -p "mnt/sda1/$dir" "$dir"
        mount --bind "mnt/sda1/$dir" "$dir"
    done < "$vm/iso/persist"
fi

# Kernel file systems: our own proc (new PID namespace) and sysfs (our network namespace), the
# host's cgroups (dockerd needs them) and devices.
mount -t proc proc proc
mount -t sysfs sysfs sys
mount --rbind /sys/fs/cgroup sys/fs/cgroup
mount --rbind /dev dev
mount -t tmpfs -o mode=1777 shm dev/shm

pivot_root . oldroot
cd /
umount -l /oldroot
rmdir /oldroot
exec /bin/sh /etc/rc.d/boot
