#!/usr/bin/env bash
# Starts the gateway on a fresh clone. With no SerwerSMS account configured (environment or
# .env), it runs against the built-in simulator with a demo API key — explicitly, and it says so.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -d node_modules ] || npm ci --no-audit --no-fund
npm run --silent build

configured() {
  node --input-type=module -e "
    import { readEnvironment } from './dist/config.js'
    const env = readEnvironment()
    process.exit(['$1'].flatMap((n) => n.split(' ')).some((name) => env[name]?.trim()) ? 0 : 1)"
}
# AUTH_DISABLED=false is what leaving it unset means.
auth_disabled() {
  node --input-type=module -e "
    import { readEnvironment } from './dist/config.js'
    process.exit(readEnvironment().AUTH_DISABLED?.trim() === 'true' ? 0 : 1)"
}

# The port the gateway will listen on, from the environment or .env like every other setting:
# delivery reports are sent back to it.
port=$(node --input-type=module -e "
  import { readEnvironment } from './dist/config.js'
  process.stdout.write(readEnvironment().PORT?.trim() || '3000')")
if ! configured "SERWERSMS_TOKEN SERWERSMS_USERNAME SERWERSMS_SIMULATOR"; then
  export SERWERSMS_SIMULATOR=true
  echo "quickstart: no SerwerSMS account configured: using the built-in simulator (SERWERSMS_SIMULATOR=true)"
fi
key_hint='<one of your API_KEYS>'
if auth_disabled; then
  key_hint='<none needed: AUTH_DISABLED=true>'
elif ! configured "API_KEYS"; then
  export API_KEYS="demo:demo-key-0123456789abcdef"
  key_hint=demo-key-0123456789abcdef
  echo "quickstart: no API_KEYS configured: the demo client's key is demo-key-0123456789abcdef"
fi
if ! configured "PUBLIC_URL"; then
  # Delivery reports from the in-process simulator come back to this very gateway.
  export PUBLIC_URL="http://127.0.0.1:${port}"
  DLR_SECRET=$(node -e "process.stdout.write(require('node:crypto').randomBytes(32).toString('base64url'))")
  export DLR_SECRET
fi
export SIMULATOR_DLR_DELAY_MS=${SIMULATOR_DLR_DELAY_MS:-2000}

cat <<MSG
quickstart: gateway on http://localhost:${port} — Swagger UI at http://localhost:${port}/docs
  curl -s http://localhost:${port}/sms -H 'Authorization: Bearer ${key_hint}' \\
       -H 'Content-Type: application/json' -d '{"to":["+48500600700","45616"],"text":"Hello"}'
MSG
exec node dist/server.js
