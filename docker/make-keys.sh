#!/usr/bin/env bash
# Generates throwaway SSH keys for the local docker-compose stack into docker/keys/ (git-ignored) and
# writes docker/config/partners/local-sftp.yaml with the SFTP server's host key pinned.
# For local use only: production keys come from your secret store, and the partner's fingerprint from
# the partner. Keeps existing keys; delete docker/keys/* to make new ones.
# Usage: bash docker/make-keys.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

host_key=keys/ssh_host_ed25519_key
client_key=keys/partner_ed25519

# Docker creates a missing bind-mount source as an empty directory; clear those leftovers.
for path in "$host_key" "$client_key" "$client_key.pub"; do
  if [[ -d $path ]]; then rmdir "$path"; fi
done

mkdir -p keys
[[ -f $host_key ]] || ssh-keygen -q -t ed25519 -N '' -C 'ferry-local-sftp-host' -f "$host_key"
[[ -f $client_key ]] || ssh-keygen -q -t ed25519 -N '' -C 'ferry-local-partner' -f "$client_key"
chmod 0600 "$host_key"
# Compose file secrets are bind mounts that keep the host's owner and mode, and Ferry runs as the
# image's `node` user: this throwaway key must be readable by it. Never do this with a real key.
chmod 0644 "$client_key"

fingerprint=$(ssh-keygen -l -E sha256 -f "$host_key.pub" | awk '{ print $2 }')
sed "s|@HOST_KEY_FINGERPRINT@|$fingerprint|" config/partners/local-sftp.yaml.in >config/partners/local-sftp.yaml

echo "make-keys: host key   $host_key  ($fingerprint)"
echo "make-keys: client key $client_key  (authorized on the sftp service as user ferry)"
echo "make-keys: wrote config/partners/local-sftp.yaml with the host key pinned"
