#!/usr/bin/env bash
# Installs what the gateway's tests need on a fresh Debian machine: the Debian packages behind
# the real servers and tools the tests drive, then the npm packages from the lock file.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A debian_package_of=(
  [redis-server]=redis-server   # idempotency keys and rate limits shared by replicas
  [promtool]=prometheus         # checks the Prometheus config, alerts and /metrics output
  [chromium]=chromium           # the Swagger UI browser test
  [docker-compose]=docker-compose # checks docker-compose.yml
  [fc-list]=fonts-dejavu-core   # readable text in the Swagger UI screenshot
)
missing=()
for command in "${!debian_package_of[@]}"; do
  command -v "$command" >/dev/null 2>&1 || missing+=("${debian_package_of[$command]}")
done
if ((${#missing[@]} > 0)); then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo_if_needed=()
  [ "$(id -u)" -ne 0 ] && sudo_if_needed=(sudo)
  "${sudo_if_needed[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_if_needed[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Installed for their programs: the tests start servers of their own, on ports of their own. Under
  # systemd the packages would also leave their services running and enabled (Redis on 6379,
  # Prometheus on 0.0.0.0:9090): those this script installed are stopped and disabled.
  if [ -d /run/systemd/system ]; then
    for service in redis-server prometheus; do
      if [[ " ${missing[*]} " == *" $service "* ]]; then
        "${sudo_if_needed[@]}" systemctl disable --now "$service" >/dev/null 2>&1 && echo "setup: stopped and disabled the $service service the package started (the tests run their own)"
      fi
    done
  fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
fi
