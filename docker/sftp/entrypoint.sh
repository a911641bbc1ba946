#!/bin/sh
# Installs the mounted host key and authorized key with the owners and modes sshd insists on
# (bind mounts keep the host's), then runs sshd in the foreground, logging to stderr.
set -eu
for f in /keys/ssh_host_ed25519_key /keys/authorized_keys; do
  if [ ! -f "$f" ] || [ ! -s "$f" ]; then
    echo "sftp: $f is missing: run 'bash docker/make-keys.sh' before 'docker compose up'" >&2
    exit 1
  fi
done
install -o root -g root -m 0600 /keys/ssh_host_ed25519_key /etc/ssh/keys/ssh_host_ed25519_key
install -o root -g root -m 0644 /keys/authorized_keys /etc/ssh/authorized_keys/ferry
exec /usr/sbin/sshd -D -e
