import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { runBundle } from '../src/code-cache.js'
import { NO_CHILD_COVERAGE, NODE_WITHOUT_TAP_HOOKS } from './servers.js'

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('../', import.meta.url))

/**
 * A bundle in a directory of its own. Its source names the test, so that no two tests compile
 * the same text: V8 would take a script it already compiled in this process from its own table.
 */
function bundleDir (t: Test, body: string): { bundle: string, cache: string, rewrite: (body: string) => void } {
  const dir = mkdtempSync(join(tmpdir(), 'sms-gateway-code-cache-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const bundle = join(dir, 'bundle.cjs')
  const rewrite = (body: string) => { writeFileSync(bundle, `// ${t.fullname}\n${body}`) }
  writeFileSync(join(dir, 'dependency.cjs'), 'module.exports = 2')
  rewrite(body)
  return { bundle, cache: join(dir, 'bundle.cjs.cache'), rewrite }
}

const BODY = `'use strict'
const two = require('./dependency.cjs')
const double = (n) => n * two
exports.doubled = double(21)
exports.where = { filename: __filename, dirname: __dirname, self: this === module.exports }
exports.strict = (function () { return this === undefined })()
`

/** Source maps off, as `node dist/server.js` runs; tap runs the tests with them on. */
function withoutSourceMaps (t: Test): void {
  const before = process.sourceMapsEnabled
  process.setSourceMapsEnabled(false)
  t.teardown(() => { process.setSourceMapsEnabled(before) })
}

t.test('a bundle runs as a CommonJS module, compiled afresh while no cache is beside it', async (t) => {
  withoutSourceMaps(t)
  const { bundle, cache } = bundleDir(t, BODY)
  const loaded = runBundle(bundle, cache)
  t.equal(loaded.codeCache, 'missing')
  t.same(loaded.exports, {
    doubled: 42,
    where: { filename: bundle, dirname: join(bundle, '..'), self: true },
    strict: true
  }, 'require() resolves beside the bundle; __filename, __dirname and this are a module\'s; "use strict" holds')
})

/**
 * Loads the bundle in a process of its own, as each start of the gateway is: within one process
 * V8 reuses a script it compiled before and never looks at the cache. (tsx turns source maps on.)
 */
async function loadInFreshProcess (bundle: string, cache: string, { write = false } = {}): Promise<{ codeCache: string, doubled: number }> {
  const script = `import { runBundle } from './src/code-cache.ts'
const loaded = runBundle(${JSON.stringify(bundle)}, ${JSON.stringify(cache)}, { mapStackTraces: false })
if (${String(write)}) loaded.writeCodeCache()
process.stdout.write(JSON.stringify({ codeCache: loaded.codeCache, doubled: loaded.exports.doubled }))`
  const [command, ...args] = NODE_WITHOUT_TAP_HOOKS as [string, ...string[]]
  const { stdout } = await run(command, [...args, '--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, ...NO_CHILD_COVERAGE }
  })
  return JSON.parse(stdout) as { codeCache: string, doubled: number }
}

t.test('the cache written after a start is taken by the next start; one of other source, or not a cache, is refused', async (t) => {
  const { bundle, cache, rewrite } = bundleDir(t, BODY)
  t.same(await loadInFreshProcess(bundle, cache, { write: true }), { codeCache: 'missing', doubled: 42 })
  t.ok(existsSync(cache), 'written')
  t.same(await loadInFreshProcess(bundle, cache), { codeCache: 'accepted', doubled: 42 })

  rewrite(BODY.replace('double(21)', 'double(210)'))
  t.same(await loadInFreshProcess(bundle, cache), { codeCache: 'rejected', doubled: 420 }, 'the source changed since: the new source runs')

  writeFileSync(cache, Buffer.from('not a V8 code cache, but long enough to be read as one'.repeat(20)))
  t.same(await loadInFreshProcess(bundle, cache), { codeCache: 'rejected', doubled: 420 })
})

t.test('in one process, a cache of source never compiled there is checked and refused', async (t) => {
  withoutSourceMaps(t)
  const { bundle, cache, rewrite } = bundleDir(t, BODY)
  runBundle(bundle, cache).writeCodeCache()
  t.ok(existsSync(cache))
  rewrite(BODY.replace('double(21)', 'double(2100)'))
  const changed = runBundle(bundle, cache)
  t.equal(changed.codeCache, 'rejected')
  t.equal(changed.exports.doubled, 4200)
})

t.test('with source maps on, the bundle is left to Node\'s require(), which maps stack traces through them', async (t) => {
  const before = process.sourceMapsEnabled
  process.setSourceMapsEnabled(true)
  t.teardown(() => { process.setSourceMapsEnabled(before) })
  const { bundle, cache } = bundleDir(t, `${BODY}exports.stack = new Error('where').stack\n`)
  const loaded = runBundle(bundle, cache)
  t.equal(loaded.codeCache, 'unused')
  t.equal(loaded.exports.doubled, 42)
  t.match(loaded.exports.stack, `${bundle}:`, 'the bundle is a module of its own, by its path')
  loaded.writeCodeCache()
  t.notOk(existsSync(cache), 'there is no compiled script to write a cache of')
})

t.test('a cache that cannot be read only costs the time to compile', async (t) => {
  withoutSourceMaps(t)
  const { bundle, cache } = bundleDir(t, BODY)
  mkdirSync(cache)
  const loaded = runBundle(bundle, cache)
  t.equal(loaded.codeCache, 'missing')
  t.equal(loaded.exports.doubled, 42)
})
