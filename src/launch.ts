import { fileURLToPath } from 'node:url'
import { debuglog } from 'node:util'
import { BUNDLE_FILE, CODE_CACHE_FILE, CODE_CACHE_STATES, runBundle, WRITE_CODE_CACHE } from './code-cache.js'

/**
 * The program operators run, `node dist/server.js`: it runs the gateway's bundle (src/server.ts
 * built as `gateway.cjs`) with the code cache the build wrote beside it. `NODE_DEBUG=sms-gateway`
 * tells whether V8 took the cache, and if not, why. The build runs it once with `--write-code-cache`: the gateway
 * starts, the cache of what that compiled is written, and the gateway stops.
 */
const writing = process.argv.includes(WRITE_CODE_CACHE)
const debug = debuglog('sms-gateway')
const bundle = runBundle(fileURLToPath(new URL(BUNDLE_FILE, import.meta.url)), fileURLToPath(new URL(CODE_CACHE_FILE, import.meta.url)), {
  // A build run under a test runner that turns source maps on must still write the cache.
  mapStackTraces: process.sourceMapsEnabled && !writing
})
debug('code cache %s: %s', bundle.codeCache, CODE_CACHE_STATES[bundle.codeCache])

if (writing) {
  const server = await (bundle.exports.started as Promise<{ close: () => Promise<void> }>)
  bundle.writeCodeCache()
  await server.close()
}
