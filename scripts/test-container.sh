#!/usr/bin/env bash
# Build and run the real sms-gateway image on a real Docker engine
# (npm run test:container; called by .ci/run).
#
#   * installs docker.io, docker-compose and debootstrap with apt-get if missing,
#   * starts dockerd if none answers (overlay2, then vfs, then vfs without
#     iptables) and stops it again at the end (KEEP_DOCKERD=1 keeps it),
#   * builds node:20-bookworm-slim with scripts/offline-base-image.sh when the
#     engine does not have it yet (never pulled: this project's machines reach
#     no image registry), then builds the Dockerfile as it is,
#   * checks: build context, image metadata, /healthz + the image HEALTHCHECK,
#     a send through the gateway container to the simulator container, auth,
#     /metrics, non-root, read-only app files, clean exit 0 on SIGTERM (gateway
#     and simulator as PID 1), and `docker-compose up -d gateway simulator`
#     (healthz, a send, clean stop under init: true).
#
# Ends with a plain `container: N passed, M failed` line; exits non-zero on any
# failure. If no engine can be started it says so loudly and fails.
#
# Env: IMAGE (default sms-gateway:ci), BUILD_NETWORK (bridge|host|auto),
#      KEEP_DOCKERD=1, KEEP_CONTAINERS=1 (debugging: leaves the containers, their
#      network and the compose project; add KEEP_DOCKERD=1 to look at them), BUILD_CONTEXT (default:
#      the repo; for trying the Dockerfile on a stand-in tree).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGE="${IMAGE:-sms-gateway:ci}"
BASE_IMAGE="node:20-bookworm-slim"
BUILD_CONTEXT="${BUILD_CONTEXT:-$ROOT}"
BUILD_NETWORK="${BUILD_NETWORK:-auto}"
P="smsgw-ct-$$"                       # prefix of everything this run creates
LOGDIR="$(mktemp -d "${TMPDIR:-/tmp}/sms-gateway-container-test.XXXXXX")"
API_KEY="ci-container-key-$(date +%s)-$RANDOM"
SIM_TOKEN="ci-sim-token-$RANDOM$RANDOM"
DLR_SECRET="ci-dlr-secret-$(date +%s)-0123456789abcdefghijklmnop"
PASSED=0
FAILED=0
DOCKERD_PID=""
COMPOSE_PROJECT="${P}-compose"

if [ -z "${DOCKER:-}" ]; then
  if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi
fi

say() { printf '[container] %s\n' "$*"; }
pass() { PASSED=$((PASSED + 1)); printf 'ok   - %s\n' "$1"; }
fail() {
  FAILED=$((FAILED + 1)); printf 'FAIL - %s\n' "$1"
  if [ -n "${2:-}" ]; then printf '%s\n' "$2" | tail -n 40 | sed 's/^/       | /'; fi
}
check() { # check "name" command...: pass if the command succeeds
  local name="$1"; shift
  local out
  if out="$("$@" 2>&1)"; then pass "$name"; else fail "$name" "$out"; fi
}
summary() { printf 'container: %d passed, %d failed\n' "$PASSED" "$FAILED"; }

loud_fail() {
  {
    echo
    echo '############################################################################'
    echo "#  CONTAINER TESTS DID NOT RUN: $1"
    echo '#  This is a failure, not a skip.'
    echo '############################################################################'
    [ -n "${2:-}" ] && [ -f "$2" ] && { echo "--- last lines of $2:"; tail -n 40 "$2"; }
  } >&2
  FAILED=$((FAILED + 1))
  cleanup
  summary
  exit 1
}

# HTTP from the host: prints "<status> <body>" (status 000 when unreachable).
http() { # method url [json body] [bearer token]
  node -e '
    const [method, url, body, token] = process.argv.slice(1)
    const headers = {}
    if (body) headers["content-type"] = "application/json"
    if (token) headers.authorization = "Bearer " + token
    fetch(url, { method, headers, body: body || undefined, signal: AbortSignal.timeout(10000) })
      .then(async (r) => console.log(r.status + " " + (await r.text())), (e) => console.log("000 " + e.message))
  ' "$@"
}

wait_http_200() { # url seconds
  local i out
  for ((i = 0; i < $2; i++)); do
    out="$(http GET "$1")"
    [ "${out%% *}" = 200 ] && { echo "$out"; return 0; }
    sleep 1
  done
  echo "last answer: $out"
  return 1
}

cleanup() {
  if [ "${KEEP_CONTAINERS:-0}" != 1 ] && "$DOCKER" info >/dev/null 2>&1; then
    "$DOCKER" rm -f "$P-gw" "$P-sim" "$P-ctx" >/dev/null 2>&1
    "$DOCKER" network rm "$P-net" >/dev/null 2>&1
    "$DOCKER" image rm "$P-ctx:probe" >/dev/null 2>&1
    if [ -f "$LOGDIR/compose.env" ] && command -v docker-compose >/dev/null 2>&1; then
      (cd "$ROOT" && docker-compose -p "$COMPOSE_PROJECT" --env-file "$LOGDIR/compose.env" down -v --remove-orphans -t 5) >/dev/null 2>&1
    fi
  fi
  if [ -n "$DOCKERD_PID" ] && [ "${KEEP_DOCKERD:-0}" != 1 ]; then
    kill -TERM "$DOCKERD_PID" 2>/dev/null
    for _ in $(seq 1 30); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 1; done
    DOCKERD_PID=""
  fi
}
trap 'cleanup' EXIT
trap 'echo "[container] interrupted" >&2; exit 130' INT TERM

# ---------------------------------------------------------------- prerequisites
[ "$(id -u)" = 0 ] || loud_fail "must run as root (to start dockerd and build the base image)"

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
[ -x /usr/bin/docker ] || command -v docker >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]}"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >"$LOGDIR/apt.log" 2>&1; then
    (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}") >>"$LOGDIR/apt.log" 2>&1 ||
      loud_fail "could not install ${missing[*]} with apt-get" "$LOGDIR/apt.log"
  fi
  [ -x /usr/bin/docker ] && DOCKER=/usr/bin/docker
fi
command -v node >/dev/null 2>&1 || loud_fail "node is needed on the host (HTTP checks, offline base image)"

# ---------------------------------------------------------------- engine
start_dockerd() { # extra dockerd flags...
  say "starting dockerd $*"
  dockerd "$@" >"$LOGDIR/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  for _ in $(seq 1 60); do
    "$DOCKER" info >/dev/null 2>&1 && return 0
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 1
  done
  kill -TERM "$DOCKERD_PID" 2>/dev/null
  for _ in $(seq 1 20); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 1; done
  kill -KILL "$DOCKERD_PID" 2>/dev/null
  DOCKERD_PID=""
  cp "$LOGDIR/dockerd.log" "$LOGDIR/dockerd-failed-$(date +%s%N).log"
  return 1
}

if "$DOCKER" info >/dev/null 2>&1; then
  say "using the running Docker engine"
else
  start_dockerd --storage-driver=overlay2 ||
    start_dockerd --storage-driver=vfs ||
    start_dockerd --storage-driver=vfs --iptables=false --ip-masq=false ||
    loud_fail "the Docker engine (dockerd) could not be started" "$LOGDIR/dockerd.log"
fi
say "engine: $("$DOCKER" version --format '{{.Server.Version}}' 2>/dev/null), storage $("$DOCKER" info --format '{{.Driver}}' 2>/dev/null)"
check "Docker engine answers" "$DOCKER" info

# ---------------------------------------------------------------- base image
if ! "$DOCKER" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  say "no $BASE_IMAGE locally: building it with scripts/offline-base-image.sh"
  if ! DOCKER="$DOCKER" bash "$ROOT/scripts/offline-base-image.sh" >"$LOGDIR/base.log" 2>&1; then
    fail "offline base image $BASE_IMAGE" "$(cat "$LOGDIR/base.log")"
    summary; exit 1
  fi
fi
check "base image $BASE_IMAGE present" "$DOCKER" image inspect "$BASE_IMAGE"

# Can a build container reach the npm registry on the default bridge? If not, use the host network.
if [ "$BUILD_NETWORK" = auto ]; then
  if "$DOCKER" run --rm "$BASE_IMAGE" npm ping >"$LOGDIR/npm-ping.log" 2>&1; then
    BUILD_NETWORK=bridge
  elif "$DOCKER" run --rm --network host "$BASE_IMAGE" npm ping >>"$LOGDIR/npm-ping.log" 2>&1; then
    BUILD_NETWORK=host
  else
    fail "npm registry reachable from a container" "$(cat "$LOGDIR/npm-ping.log")"
    BUILD_NETWORK=host
  fi
fi
say "build network: $BUILD_NETWORK"

# ---------------------------------------------------------------- build
build_args=(--network "$BUILD_NETWORK" -t "$IMAGE" -f "$ROOT/Dockerfile"
  --build-arg "VERSION=$(node -p "require('$ROOT/package.json').version")"
  --build-arg "REVISION=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)")
for v in HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy; do
  [ -n "${!v:-}" ] && build_args+=(--build-arg "$v=${!v}")
done
say "docker build ${build_args[*]} $BUILD_CONTEXT"
start=$(date +%s)
if "$DOCKER" build "${build_args[@]}" "$BUILD_CONTEXT" >"$LOGDIR/build.log" 2>&1; then
  pass "docker build of the Dockerfile ($(($(date +%s) - start))s)"
else
  fail "docker build of the Dockerfile" "$(cat "$LOGDIR/build.log")"
  summary; exit 1
fi

# What the engine received as build context: .dockerignore at work.
printf 'FROM %s\nCOPY . /ctx\n' "$BASE_IMAGE" | "$DOCKER" build -q -t "$P-ctx:probe" -f - "$BUILD_CONTEXT" >"$LOGDIR/ctx.log" 2>&1
ctx="$("$DOCKER" run --rm --name "$P-ctx" "$P-ctx:probe" sh -c 'cd /ctx && find . -mindepth 1 -maxdepth 2 | sort' 2>&1)"
bad="$(printf '%s\n' "$ctx" | grep -E '^\./(node_modules|test|dist|coverage|\.git|\.env|\.tap|\.ci)(/|$)' || true)"
if [ -n "$ctx" ] && [ -z "$bad" ] && grep -qx './package-lock.json' <<<"$ctx"; then
  pass "build context has no node_modules, tests, .git or .env ($(printf '%s\n' "$ctx" | wc -l) entries)"
else
  fail "build context has no node_modules, tests, .git or .env" "$bad$ctx"
fi

# ---------------------------------------------------------------- image metadata
inspect() { "$DOCKER" image inspect -f "$1" "$IMAGE" 2>&1; }
user="$(inspect '{{.Config.User}}')"
if [ -n "$user" ] && [ "$user" != root ] && [ "$user" != 0 ]; then pass "image user is $user"; else fail "image runs as non-root" "User='$user'"; fi
hc="$(inspect '{{json .Config.Healthcheck}}')"
if grep -q '/healthz' <<<"$hc"; then pass "image HEALTHCHECK probes /healthz"; else fail "image HEALTHCHECK" "$hc"; fi
if inspect '{{json .Config.ExposedPorts}}' | grep -q '"3000/tcp"'; then pass "image EXPOSE 3000"; else fail "image EXPOSE 3000" "$(inspect '{{json .Config.ExposedPorts}}')"; fi
if inspect '{{index .Config.Labels "org.opencontainers.image.title"}}' | grep -qx 'sms-gateway'; then pass "image labels"; else fail "image labels" "$(inspect '{{json .Config.Labels}}')"; fi
say "image size: $(inspect '{{.Size}}' | awk '{ printf "%.0f MB", $1 / 1e6 }')"

# ---------------------------------------------------------------- run: gateway + simulator containers
"$DOCKER" network create "$P-net" >/dev/null
"$DOCKER" run -d --name "$P-sim" --network "$P-net" --network-alias simulator \
  -e SIMULATOR_HOST=0.0.0.0 -e SIMULATOR_PORT=4010 -e SIMULATOR_TOKEN="$SIM_TOKEN" -e SIMULATOR_DLR_DELAY_MS=200 \
  "$IMAGE" node dist/cli/simulator.js >/dev/null
# No --init here on purpose: node as PID 1 must handle SIGTERM itself.
"$DOCKER" run -d --name "$P-gw" --network "$P-net" --network-alias gateway -p 127.0.0.1::3000 \
  -e API_KEYS="ci:$API_KEY" -e SERWERSMS_API_URL=http://simulator:4010/ -e SERWERSMS_TOKEN="$SIM_TOKEN" \
  -e PUBLIC_URL=http://gateway:3000 -e DLR_SECRET="$DLR_SECRET" -e METRICS_PORT=9464 -e LOG_LEVEL=info \
  -e NODE_DEBUG=sms-gateway \
  "$IMAGE" >/dev/null
GW_PORT="$("$DOCKER" port "$P-gw" 3000/tcp | head -n1 | sed 's/.*://')"
GW="http://127.0.0.1:$GW_PORT"
say "gateway container at $GW"

check "GET /healthz answers 200 (container)" wait_http_200 "$GW/healthz" 60
out="$(http GET "$GW/readyz")"
if [ "${out%% *}" = 200 ]; then pass "GET /readyz answers 200"; else fail "GET /readyz answers 200" "$out"; fi
# NODE_DEBUG=sms-gateway: the launcher says whether V8 took the code cache written at image build.
cache="$("$DOCKER" logs "$P-gw" 2>&1 | grep -o 'code cache [a-z]*' | head -n1)"
if [ "$cache" = 'code cache accepted' ]; then pass "gateway starts from the code cache the image build wrote"; else fail "gateway starts from the code cache the image build wrote" "${cache:-no launcher line}"; fi

out="$(http GET "$GW/docs/json")"
if [ "${out%% *}" = 200 ] && grep -q '"/sms"' <<<"$out"; then pass "GET /docs/json serves the OpenAPI document"; else fail "GET /docs/json serves the OpenAPI document" "$(printf '%s' "$out" | head -c 400)"; fi
out="$(http GET "$GW/docs/")"
if [ "${out%% *}" = 200 ]; then pass "GET /docs/ serves Swagger UI"; else fail "GET /docs/ serves Swagger UI" "$(printf '%s' "$out" | head -c 400)"; fi

send="$(http POST "$GW/sms" '{"to":"+48500600700","text":"container test"}' "$API_KEY")"
if [ "${send%% *}" = 200 ] && printf '%s' "${send#* }" | node -e '
    let s = ""; process.stdin.on("data", (d) => { s += d }).on("end", () => {
      const id = JSON.parse(s)?.messages?.[0]?.id
      process.exit(typeof id === "string" || typeof id === "number" ? 0 : 1)
    })'; then
  pass "POST /sms through the simulator container returns a message id"
else
  fail "POST /sms through the simulator container returns a message id" "$send"
fi
out="$(http POST "$GW/sms" '{"to":"+48500600700","text":"no key"}')"
if [ "${out%% *}" = 401 ]; then pass "POST /sms without an API key is 401"; else fail "POST /sms without an API key is 401" "$out"; fi

get_metrics() {
  "$DOCKER" exec "$P-gw" node -e "fetch('http://127.0.0.1:9464/metrics').then(async (r) => { console.log(r.status); console.log(await r.text()) }, (e) => console.log(e.message))" 2>&1
}
# The simulator pushes a delivery report to PUBLIC_URL/dlr (SIMULATOR_DLR_DELAY_MS=200): wait for it.
# Counted, not merely present: the gateway exports the delivered series at 0 from its start.
DELIVERED='^sms_gateway_delivery_reports_total\{status="delivered"[^}]*\} [1-9]'
for _ in $(seq 1 20); do
  metrics="$(get_metrics)"
  grep -qE "$DELIVERED" <<<"$metrics" && break
  sleep 1
done
if grep -qE "$DELIVERED" <<<"$metrics"; then
  pass "delivery report from the simulator container reaches the gateway (/dlr)"
else
  fail "delivery report from the simulator container reaches the gateway (/dlr)" "$(printf '%s\n' "$metrics" | grep -E '^sms_gateway_delivery_reports' ; "$DOCKER" logs --tail 10 "$P-gw" 2>&1)"
fi
# No pipes into early-exiting readers here: under pipefail, printf's broken pipe would fail the check.
if [ "${metrics%%$'\n'*}" = 200 ] && grep -qE '^sms_gateway_messages_total\{status="queued"[^}]*\} [1-9]' <<<"$metrics"; then
  pass "/metrics on METRICS_PORT counts the send"
else
  fail "/metrics on METRICS_PORT counts the send" "$(printf '%s\n' "$metrics" | grep -v '^#' | head -n 20)"
fi
# The dashboard and the alerts name only metrics this live gateway exports.
printf '%s\n' "$metrics" | tail -n +2 >"$LOGDIR/metrics.txt"
if command -v promtool >/dev/null 2>&1; then
  # prom-client's own nodejs_*/process_* names are outside the project's control.
  lint="$(promtool check metrics <"$LOGDIR/metrics.txt" 2>&1 | grep -v -E '^(nodejs|process)_' || true)"
  if [ -z "$lint" ]; then pass "promtool check metrics: the gateway's own metrics are clean"; else fail "promtool check metrics: the gateway's own metrics are clean" "$lint"; fi
else
  fail "promtool check metrics: the gateway's own metrics are clean" "promtool not found: apt-get install -y prometheus (scripts/setup.sh does)"
fi
# (run directly with node + tsx, not through tap: no coverage, no shared .tap/ state)
if [ -d "$ROOT/node_modules/tsx" ]; then
  if (cd "$ROOT" && METRICS_EXPOSITION_FILE="$LOGDIR/metrics.txt" node --import tsx \
    test/deploy/live-metrics.test.ts) >"$LOGDIR/live-metrics.log" 2>&1; then
    pass "dashboard and alerts use only metrics the live /metrics exports"
  else
    fail "dashboard and alerts use only metrics the live /metrics exports" \
      "$(grep -E -A4 '^ *not ok' "$LOGDIR/live-metrics.log" | grep -E 'not ok|usedBy|- ' | head -n 30)"
  fi
else
  fail "dashboard and alerts use only metrics the live /metrics exports" "node_modules/tsx missing: run npm ci first"
fi

uid="$("$DOCKER" exec "$P-gw" id -u 2>&1)"
if [ "$uid" != 0 ] && [ -n "$uid" ] && [ "$uid" -eq "$uid" ] 2>/dev/null; then pass "gateway runs as uid $uid (non-root)"; else fail "gateway runs as non-root" "id -u: $uid"; fi
pid1="$("$DOCKER" exec "$P-gw" cat /proc/1/cmdline 2>&1 | tr '\0' ' ')"
case "$pid1" in node\ dist/server.js*) pass "PID 1 is node dist/server.js (no shell or npm in between)" ;; *) fail "PID 1 is node dist/server.js" "$pid1" ;; esac
if "$DOCKER" exec "$P-gw" sh -c 'touch /app/dist/server.js' >/dev/null 2>&1; then
  fail "application files are read-only for the app user"
else
  pass "application files are read-only for the app user"
fi

health=""
for _ in $(seq 1 60); do
  health="$("$DOCKER" inspect -f '{{.State.Health.Status}}' "$P-gw" 2>&1)"
  [ "$health" = healthy ] && break
  [ "$health" = unhealthy ] && break
  sleep 1
done
if [ "$health" = healthy ]; then pass "Docker HEALTHCHECK reports healthy"; else fail "Docker HEALTHCHECK reports healthy" "$health $("$DOCKER" inspect -f '{{json .State.Health}}' "$P-gw")"; fi

stop_check() { # container label
  local t0 t1 code ms
  t0=$(date +%s%N)
  "$DOCKER" stop -t 15 "$1" >/dev/null 2>&1
  t1=$(date +%s%N)
  ms=$(((t1 - t0) / 1000000))
  code="$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$1" 2>&1)"
  if [ "$code" = 0 ] && [ "$ms" -lt 10000 ]; then
    pass "$2 stops on SIGTERM with exit 0 in ${ms} ms"
  else
    fail "$2 stops on SIGTERM with exit 0 within 10 s" "exit code $code after ${ms} ms; last log lines:
$("$DOCKER" logs --tail 15 "$1" 2>&1)"
  fi
}
stop_check "$P-gw" "gateway (node as PID 1)"
stop_check "$P-sim" "simulator (node as PID 1)"
"$DOCKER" logs "$P-gw" >"$LOGDIR/gateway.log" 2>&1
"$DOCKER" logs "$P-sim" >"$LOGDIR/simulator.log" 2>&1
if [ "${KEEP_CONTAINERS:-0}" != 1 ]; then
  "$DOCKER" rm -f "$P-gw" "$P-sim" >/dev/null 2>&1
  "$DOCKER" network rm "$P-net" >/dev/null 2>&1
fi

# ---------------------------------------------------------------- docker-compose up gateway simulator
cat >"$LOGDIR/compose.env" <<EOF
SMS_GATEWAY_IMAGE=$IMAGE
GATEWAY_PUBLISH=127.0.0.1:
SIMULATOR_PUBLISH=127.0.0.1:
API_KEYS=ci:$API_KEY
SERWERSMS_TOKEN=$SIM_TOKEN
SIMULATOR_TOKEN=$SIM_TOKEN
DLR_SECRET=$DLR_SECRET
EOF
compose() { (cd "$ROOT" && docker-compose -p "$COMPOSE_PROJECT" --env-file "$LOGDIR/compose.env" "$@"); }
if compose up -d --no-build gateway simulator >"$LOGDIR/compose-up.log" 2>&1; then
  pass "docker-compose up -d gateway simulator"
  CGW="http://$(compose port gateway 3000 2>/dev/null | tail -n1)"
  say "compose gateway at $CGW"
  check "GET /healthz answers 200 (compose)" wait_http_200 "$CGW/healthz" 60
  out="$(http POST "$CGW/sms" '{"to":"+48500600700","text":"compose test"}' "$API_KEY")"
  if [ "${out%% *}" = 200 ]; then pass "POST /sms through the compose simulator"; else fail "POST /sms through the compose simulator" "$out"; fi
  cid="$(compose ps -q gateway 2>/dev/null)"
  t0=$(date +%s%N)
  compose stop -t 15 gateway >/dev/null 2>&1
  ms=$((($(date +%s%N) - t0) / 1000000))
  code="$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$cid" 2>&1)"
  if [ "$code" = 0 ] && [ "$ms" -lt 10000 ]; then pass "compose gateway (init: true) stops with exit 0 in ${ms} ms"; else fail "compose gateway (init: true) stops with exit 0 within 10 s" "exit code $code after ${ms} ms"; fi
else
  fail "docker-compose up -d gateway simulator" "$(cat "$LOGDIR/compose-up.log")"
fi
compose logs --no-color >"$LOGDIR/compose.log" 2>&1
if [ "${KEEP_CONTAINERS:-0}" != 1 ]; then
  compose down -v --remove-orphans -t 5 >/dev/null 2>&1 && rm -f "$LOGDIR/compose.env"
fi

say "logs in $LOGDIR"
summary
[ "$FAILED" -eq 0 ]
