#!/usr/bin/env bash
# Build the lab's Debian 12 image with mmdebstrap and import it into podman.
# Usage: lab/build-image.sh IMAGE_REF
# Everything the lab hosts of every area need is in this one image, so that
# `maintctl lab up` builds it once (about 2 min) and starts hosts in seconds.
# Hosts run `sshd -D -e` as PID 1, except those of lab/hosts.yml with `systemd: true`
# (db01), which boot /sbin/init: for them sshd is ssh.service, with its host keys made
# before it starts, and the units that need the internet (freshclam, apt's timers) are masked.
set -euo pipefail
ref=${1:?image ref}
mirror=${MAINT_LAB_MIRROR:-http://deb.debian.org/debian}
work=$(mktemp -d /var/tmp/maintlab-rootfs.XXXXXX)
trap 'rm -rf "$work"' EXIT
packages=python3,python3-apt,sudo,procps,openssh-server,iproute2,smartmontools,clamav,clamav-base,restic,borgbackup,ca-certificates,kmod,less,systemd,systemd-sysv,dbus
mmdebstrap --quiet --variant=minbase --include="$packages" \
  --customize-hook='chroot "$1" useradd --create-home --shell /bin/bash maint' \
  --customize-hook='echo "maint ALL=(ALL) NOPASSWD: ALL" > "$1/etc/sudoers.d/maint" && chmod 0440 "$1/etc/sudoers.d/maint"' \
  --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*' \
  --customize-hook='printf "%s\n" "PermitRootLogin no" "PasswordAuthentication no" "KbdInteractiveAuthentication no" "AuthorizedKeysFile /etc/ssh/authorized_keys/%u" "UseDNS no" > "$1/etc/ssh/sshd_config.d/lab.conf"' \
  --customize-hook='mkdir -p "$1/etc/ssh/authorized_keys" "$1/run/sshd"' \
  --customize-hook='mkdir -p "$1/etc/systemd/system/ssh.service.d" && printf "%s\n" "[Service]" "ExecStartPre=" "ExecStartPre=/usr/bin/ssh-keygen -A" "ExecStartPre=/usr/sbin/sshd -t" > "$1/etc/systemd/system/ssh.service.d/lab.conf"' \
  --customize-hook='for unit in clamav-freshclam.service apt-daily.timer apt-daily-upgrade.timer apt-daily.service apt-daily-upgrade.service; do ln -sf /dev/null "$1/etc/systemd/system/$unit"; done' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/usr/share/doc/* "$1"/usr/share/man/*' \
  bookworm "$work/rootfs.tar" "$mirror"
podman import --change 'CMD ["/bin/bash"]' "$work/rootfs.tar" "$ref" >/dev/null
