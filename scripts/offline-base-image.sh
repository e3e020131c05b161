#!/usr/bin/env bash
# Build a local stand-in for the official `node:20-bookworm-slim` image, for
# machines that cannot reach an image registry (air-gapped hosts, CI sandboxes).
#
#   sudo scripts/offline-base-image.sh            # build if missing
#   sudo FORCE=1 scripts/offline-base-image.sh    # rebuild
#
# What it does:
#   * `debootstrap --variant=minbase bookworm` from the Debian mirror this
#     machine already uses (/etc/apt/sources.list*; override: DEBIAN_MIRROR,
#     DEBIAN_SECURITY_MIRROR),
#   * adds this machine's Node.js 20 (`command -v node`) as /usr/local/bin/node
#     with its npm (and corepack) under /usr/local/lib/node_modules, laid out
#     like the official image, plus the official image's `node` user (1000:1000)
#     and docker-entrypoint.sh,
#   * trusts this machine's CA certificates (/etc/ssl/certs/ca-certificates.crt,
#     /usr/local/share/ca-certificates/*.crt, $NODE_EXTRA_CA_CERTS), so that
#     `npm ci` inside a build works where npm traffic passes a TLS-inspecting
#     proxy,
#   * writes /usr/local/etc/npmrc (npm's global config in the image) with this
#     machine's registry / scoped registries / proxy / cafile settings
#     (never auth tokens),
#   * `docker import`s the tree as $OFFLINE_BASE_IMAGE (default
#     node:20-bookworm-slim, the exact name the Dockerfile's FROM uses).
#
# Idempotent: if the image already exists it does nothing (FORCE=1 rebuilds).
# Needs root, a running Docker engine, debootstrap (installed with apt-get if
# missing) and Node.js 20 on the host.
set -euo pipefail

IMAGE="${OFFLINE_BASE_IMAGE:-node:20-bookworm-slim}"
SUITE="${DEBIAN_SUITE:-bookworm}"
FORCE="${FORCE:-0}"
NODE_MAJOR_WANTED="${NODE_MAJOR:-20}"

log() { printf '[offline-base] %s\n' "$*" >&2; }
die() { printf '[offline-base] ERROR: %s\n' "$*" >&2; exit 1; }

# Prefer the engine's own client (Debian docker.io) over any other docker CLI.
if [ -z "${DOCKER:-}" ]; then
  if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi
fi

[ "$(id -u)" = 0 ] || die "run as root (debootstrap and docker import need it)"
command -v "$DOCKER" >/dev/null 2>&1 || die "docker client not found"
"$DOCKER" version >/dev/null 2>&1 || die "cannot talk to the Docker engine (is dockerd running?)"

if [ "$FORCE" != 1 ] && "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
  log "image $IMAGE already exists; nothing to do (FORCE=1 to rebuild)"
  exit 0
fi

# ---------------------------------------------------------------- host facts
NODE_BIN="$(command -v node || true)"
[ -n "$NODE_BIN" ] || die "node not found on this machine"
NODE_BIN="$(readlink -f "$NODE_BIN")"
NODE_VERSION="$("$NODE_BIN" -p 'process.versions.node')"
[ "${NODE_VERSION%%.*}" = "$NODE_MAJOR_WANTED" ] ||
  die "host node is $NODE_VERSION, but $IMAGE needs Node.js $NODE_MAJOR_WANTED"

NPM_CLI="$(readlink -f "$(command -v npm)")" || die "npm not found on this machine"
NPM_DIR="$(dirname "$(dirname "$NPM_CLI")")"      # .../node_modules/npm
[ -f "$NPM_DIR/package.json" ] || die "cannot locate npm's package dir (got $NPM_DIR)"
COREPACK_DIR="$(dirname "$NPM_DIR")/corepack"

# Debian mirror: first deb822 URIs / one-line `deb` entry serving $SUITE.
find_mirror() { # $1 = suite to look for
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v s="$1" '
      /^[[:space:]]*$/ { if (uri != "" && ok) { print uri; exit } uri=""; ok=0; next }
      /^[[:space:]]*#/ { next }
      /^URIs:/   { uri=$2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) ok=1 }
      END { if (uri != "" && ok) print uri }' "$f"
  done
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk -v s="$1" '$1 == "deb" { u = $2; if (u ~ /^\[/) { u = $3; su = $4 } else su = $3; if (su == s) print u }'
}
DEBIAN_MIRROR="${DEBIAN_MIRROR:-$(find_mirror "$SUITE" | grep -v -i -E 'nodesource|google|docker' | head -n1 || true)}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DEBIAN_SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-$(find_mirror "$SUITE-security" | head -n1 || true)}"
DEBIAN_SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"

if ! command -v debootstrap >/dev/null 2>&1; then
  log "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2 ||
    die "debootstrap is missing and apt-get could not install it"
fi

# ---------------------------------------------------------------- rootfs
WORK="$(mktemp -d "${TMPDIR:-/var/tmp}/offline-base.XXXXXX")"
ROOT="$WORK/rootfs"
cleanup() {
  # debootstrap may leave proc/sys mounted when it fails half way.
  awk -v w="$WORK" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT

log "debootstrap --variant=minbase $SUITE from $DEBIAN_MIRROR (node $NODE_VERSION from $NODE_BIN)"
debootstrap --variant=minbase --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
  "$SUITE" "$ROOT" "$DEBIAN_MIRROR" >"$WORK/debootstrap.log" 2>&1 || {
  tail -n 30 "$WORK/debootstrap.log" >&2
  die "debootstrap failed"
}

# apt sources as in the official image (deb822), pointing at the same mirror.
rm -f "$ROOT/etc/apt/sources.list"
mkdir -p "$ROOT/etc/apt/sources.list.d"
cat >"$ROOT/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $DEBIAN_MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $DEBIAN_SECURITY_MIRROR
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

# Node.js, npm, corepack: same paths as the official image.
install -d "$ROOT/usr/local/bin" "$ROOT/usr/local/lib/node_modules" "$ROOT/usr/local/etc"
install -m 0755 "$NODE_BIN" "$ROOT/usr/local/bin/node"
cp -a "$NPM_DIR" "$ROOT/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$ROOT/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$ROOT/usr/local/bin/npx"
if [ -d "$COREPACK_DIR" ]; then
  cp -a "$COREPACK_DIR" "$ROOT/usr/local/lib/node_modules/corepack"
  ln -sf ../lib/node_modules/corepack/dist/corepack.js "$ROOT/usr/local/bin/corepack"
fi

cat >"$ROOT/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
set -e
# Same behaviour as the official node image: run the command with node if the
# first argument starts with "-" or is not a system command.
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi
exec "$@"
EOF
chmod 0755 "$ROOT/usr/local/bin/docker-entrypoint.sh"

# The official image's unprivileged user: node (1000:1000), home /home/node.
grep -q '^node:' "$ROOT/etc/group" || echo 'node:x:1000:' >>"$ROOT/etc/group"
grep -q '^node:' "$ROOT/etc/passwd" || echo 'node:x:1000:1000::/home/node:/bin/bash' >>"$ROOT/etc/passwd"
grep -q '^node:' "$ROOT/etc/shadow" || echo 'node:*:19000:0:99999:7:::' >>"$ROOT/etc/shadow"
[ -f "$ROOT/etc/gshadow" ] && { grep -q '^node:' "$ROOT/etc/gshadow" || echo 'node:!::' >>"$ROOT/etc/gshadow"; }
install -d -o 1000 -g 1000 -m 0755 "$ROOT/home/node"

# CA certificates of the build machine.
install -d "$ROOT/etc/ssl/certs" "$ROOT/usr/local/share/ca-certificates"
BUNDLE="$ROOT/etc/ssl/certs/ca-certificates.crt"
: >"$BUNDLE"
[ -f /etc/ssl/certs/ca-certificates.crt ] && cat /etc/ssl/certs/ca-certificates.crt >>"$BUNDLE"
for c in /usr/local/share/ca-certificates/*.crt; do
  [ -f "$c" ] || continue
  cp "$c" "$ROOT/usr/local/share/ca-certificates/"   # survives a later update-ca-certificates
  grep -qF "$(sed -n 2p "$c")" "$BUNDLE" || cat "$c" >>"$BUNDLE"
done
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ] &&
  [ "$(readlink -f "$NODE_EXTRA_CA_CERTS")" != /etc/ssl/certs/ca-certificates.crt ]; then
  cp "$NODE_EXTRA_CA_CERTS" "$ROOT/usr/local/share/ca-certificates/node-extra-ca-certs.crt"
  cat "$NODE_EXTRA_CA_CERTS" >>"$BUNDLE"
fi
chmod 0644 "$BUNDLE"
log "trusting $(grep -c 'BEGIN CERTIFICATE' "$BUNDLE") CA certificates from this machine"

# npm's global config in the image: same registry / proxy settings as this
# machine (read with the host's npm, outside any project directory).
npm_get() { (cd / && npm config get "$1" 2>/dev/null) || true; }
{
  echo "# written by scripts/offline-base-image.sh from the build machine's npm config"
  echo "cafile=/etc/ssl/certs/ca-certificates.crt"
  echo "registry=$(npm_get registry)"
  # shellcheck disable=SC2016 # JavaScript, not shell
  (cd / && npm config ls -l --json 2>/dev/null) | "$NODE_BIN" -e '
    let s = ""; process.stdin.on("data", d => { s += d }).on("end", () => {
      let c = {}; try { c = JSON.parse(s) } catch {}
      for (const [k, v] of Object.entries(c)) {
        if (/^@[^:]+:registry$/.test(k) && v) console.log(`${k}=${v}`)
      }
    })' || true
  for k in proxy https-proxy noproxy strict-ssl; do
    v="$(npm_get "$k")"
    case "$v" in '' | null | undefined) continue ;; esac
    [ "$k" = strict-ssl ] && [ "$v" = true ] && continue
    echo "$k=$v"
  done
  # Proxies only given in the environment.
  if [ "$(npm_get https-proxy)" = null ] && [ -n "${HTTPS_PROXY:-${https_proxy:-}}" ]; then
    echo "https-proxy=${HTTPS_PROXY:-${https_proxy:-}}"
  fi
  if [ "$(npm_get proxy)" = null ] && [ -n "${HTTP_PROXY:-${http_proxy:-}}" ]; then
    echo "proxy=${HTTP_PROXY:-${http_proxy:-}}"
  fi
  if [ -n "${NO_PROXY:-${no_proxy:-}}" ]; then echo "noproxy=${NO_PROXY:-${no_proxy:-}}"; fi
  echo "update-notifier=false"
  echo "fund=false"
} | awk '!seen[$0]++' >"$ROOT/usr/local/etc/npmrc"
log "npm config in the image: $(grep -v '^#' "$ROOT/usr/local/etc/npmrc" | tr '\n' ' ')"

# Slim it down like the official image.
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/cache/apt/archives/*.deb \
  "$ROOT"/var/log/* "$ROOT"/tmp/* "$ROOT"/root/.npm
# Fail now rather than inside a later build if node cannot run in the tree.
chroot "$ROOT" /usr/local/bin/node -e 'process.exit(0)' ||
  die "node does not run inside the bootstrapped tree (missing shared libraries?)"
chroot "$ROOT" /usr/local/bin/node /usr/local/bin/npm --version >/dev/null ||
  die "npm does not run inside the bootstrapped tree"

log "importing as $IMAGE"
tar -C "$ROOT" --numeric-owner -cf - . | "$DOCKER" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$NODE_VERSION" \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  --change 'LABEL org.opencontainers.image.description="Offline stand-in for node:20-bookworm-slim, built by scripts/offline-base-image.sh"' \
  --change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
  --change 'CMD ["node"]' \
  --message "debootstrap minbase $SUITE + node $NODE_VERSION (offline-base-image.sh)" \
  - "$IMAGE" >/dev/null

"$DOCKER" run --rm "$IMAGE" node -e 'console.log("node " + process.version + " as uid " + process.getuid())' >&2 ||
  die "imported image $IMAGE does not run"
log "done: $IMAGE"
