#!/usr/bin/env bash
# Installs what Ferry's tests and demo need (sshd, sftp-server, ssh-keygen, redis-server, inotifywait, and Chromium
# for the web UI's browser test), then the npm dependencies, and checks that ssh2's native crypto
# binding built. Safe to run again.
# Usage: bash bin/setup.sh   (from anywhere; used by the README quick start and .ci/run)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# command-or-path → Debian package that provides it
declare -A provides=(
  [/usr/sbin/sshd]=openssh-server
  [/usr/lib/openssh/sftp-server]=openssh-sftp-server
  [ssh-keygen]=openssh-client
  [redis-server]=redis-server
  [inotifywait]=inotify-tools
  [/usr/bin/chromium]=chromium
)

missing=()
for cmd in /usr/sbin/sshd /usr/lib/openssh/sftp-server ssh-keygen redis-server inotifywait /usr/bin/chromium; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${provides[$cmd]}")
done

if ((${#missing[@]} > 0)); then
  echo "setup: installing ${missing[*]}"
  if [[ $(id -u) -eq 0 ]]; then
    sudo=()
  elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "setup: not root and no sudo; run as root:" >&2
    echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: system packages present (openssh-server openssh-sftp-server openssh-client redis-server inotify-tools chromium)"
fi

echo "setup: npm ci"
npm ci --no-audit --no-fund

echo "setup: checking ssh2 native crypto binding"
node -e "import('ssh2/lib/protocol/crypto.js').then(m=>{if(!(m.default??m).bindingAvailable){console.error('ssh2 native crypto binding missing');process.exit(1)}})"

echo "setup: ok"
