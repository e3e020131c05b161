#!/usr/bin/env bash
# Starts the gateway on a fresh clone. With no SerwerSMS account configured (environment or
# .env), it runs against the built-in simulator with a demo API key — explicitly, and it says so.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -d node_modules ] || npm ci --no-audit --no-fund
npm run --silent build

# What the environment and .env already set, read once with the gateway's own reader; printed as
# shell assignments (the port single-quoted: it is text from the user's file).
settings=$(node --input-type=module <<'JS'
import { randomBytes } from 'node:crypto'
import { ConfigError, readEnvironment } from './dist/config.js'
let env
try {
  env = readEnvironment()
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  // As the gateway says it (src/server.ts): the message names ENV_FILE, the problem and the fix.
  process.stderr.write(`sms-gateway cannot start:\n${error.message}\n`)
  process.exit(78)
}
const set = (...names) => names.some((name) => env[name]?.trim()) ? 1 : 0
const reportHostFor = (host) => host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host
const quoted = (text) => `'${text.replaceAll("'", `'\\''`)}'`
console.log([
  // The port the gateway will listen on: delivery reports are sent back to it.
  `port=${quoted(env.PORT?.trim() || '3000')}`,
  `has_account=${set('SERWERSMS_TOKEN', 'SERWERSMS_USERNAME')}`,
  `simulator_set=${env.SERWERSMS_SIMULATOR?.trim() === 'true' ? 1 : 0}`,
  // SERWERSMS_SIMULATOR=false (or anything but true): no simulator, whatever else is configured.
  `simulator_refused=${set('SERWERSMS_SIMULATOR') && env.SERWERSMS_SIMULATOR.trim() !== 'true' ? 1 : 0}`,
  `has_api_keys=${set('API_KEYS')}`,
  // AUTH_DISABLED=false is what leaving it unset means.
  `auth_disabled=${env.AUTH_DISABLED?.trim() === 'true' ? 1 : 0}`,
  `has_public_url=${set('PUBLIC_URL')}`,
  // Where the in-process simulator reaches the gateway: HOST when it is one address, else loopback.
  `report_host=${quoted(reportHostFor(env.HOST?.trim() || '0.0.0.0'))}`,
  `new_dlr_secret=${randomBytes(32).toString('base64url')}`
].join('\n'))
JS
)
eval "$settings"

uses_simulator=$simulator_set
if [ "$has_account" = 0 ] && [ "$simulator_refused" = 1 ]; then
  echo "quickstart: SERWERSMS_SIMULATOR is set and not true, but no SerwerSMS account is configured: nothing to send to. Set SERWERSMS_TOKEN (or SERWERSMS_USERNAME and SERWERSMS_PASSWORD) in .env, or remove SERWERSMS_SIMULATOR to use the built-in simulator." >&2
  exit 78
fi
if [ "$has_account" = 0 ] && [ "$simulator_set" = 0 ]; then
  export SERWERSMS_SIMULATOR=true
  uses_simulator=1
  echo "quickstart: no SerwerSMS account configured: using the built-in simulator (SERWERSMS_SIMULATOR=true)"
fi
key_hint='<one of your API_KEYS>'
if [ "$auth_disabled" = 1 ]; then
  key_hint='<none needed: AUTH_DISABLED=true>'
elif [ "$has_api_keys" = 0 ]; then
  # The demo key is published (README): with a real account, anyone who can reach the port
  # (HOST defaults to 0.0.0.0) could send billed SMS with it.
  if [ "$uses_simulator" = 0 ]; then
    echo "quickstart: a SerwerSMS account is configured but no API_KEYS: the published demo key is only for the simulator. Set API_KEYS=name:key in .env (a key: openssl rand -hex 24)." >&2
    exit 78
  fi
  export API_KEYS="demo:demo-key-0123456789abcdef"
  key_hint=demo-key-0123456789abcdef
  echo "quickstart: no API_KEYS configured: the demo client's key is demo-key-0123456789abcdef"
fi
# Only the in-process simulator can reach a gateway on this machine; SerwerSMS needs your PUBLIC_URL.
if [ "$has_public_url" = 0 ] && [ "$uses_simulator" = 1 ]; then
  # Delivery reports from the in-process simulator come back to this very gateway.
  export PUBLIC_URL="http://${report_host}:${port}"
  export DLR_SECRET="$new_dlr_secret"
fi

cat <<MSG
quickstart: gateway on http://localhost:${port} — Swagger UI at http://localhost:${port}/docs
  curl -s http://localhost:${port}/sms -H 'Authorization: Bearer ${key_hint}' \\
       -H 'Content-Type: application/json' -d '{"to":["+48500600700","45616"],"text":"Hello"}'
MSG
exec node dist/server.js
