import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
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

/** As `node dist/server.js` runs it, without source maps. */
const COMPILED = { mapStackTraces: false }

t.test('a bundle runs as a CommonJS module, compiled afresh while no cache is beside it', async (t) => {
  const { bundle, cache } = bundleDir(t, BODY)
  const loaded = runBundle(bundle, cache, COMPILED)
  t.equal(loaded.codeCache, 'missing')
  t.same(loaded.exports, {
    doubled: 42,
    where: { filename: bundle, dirname: join(bundle, '..'), self: true },
    strict: true
  }, 'require() resolves beside the bundle; __filename, __dirname and this are a module\'s; "use strict" holds')
})

/**
 * Loads the bundle in a process of its own, as each start of the gateway is: within one process
 * V8 reuses a script it compiled before and never looks at the cache.
 */
async function loadInFreshProcess (bundle: string, cache: string, { write = false, nodeArgs = [] as string[] } = {}): Promise<{ codeCache: string, doubled: number }> {
  const script = `import { runBundle } from './src/code-cache.ts'
const loaded = runBundle(${JSON.stringify(bundle)}, ${JSON.stringify(cache)}, { mapStackTraces: false })
if (${String(write)}) loaded.writeCodeCache()
process.stdout.write(JSON.stringify({ codeCache: loaded.codeCache, doubled: loaded.exports.doubled }))`
  const [command, ...args] = NODE_WITHOUT_TAP_HOOKS as [string, ...string[]]
  const { stdout } = await run(command, [...args, ...nodeArgs, '--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, ...NO_CHILD_COVERAGE }
  })
  return JSON.parse(stdout) as { codeCache: string, doubled: number }
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest()

/** A cache file for the bundle as it is now, undamaged, whose V8 part is not one. */
function garbledCacheFor (bundle: string): Buffer {
  const notV8 = Buffer.from('not a V8 code cache, but long enough to be read as one'.repeat(20))
  return Buffer.concat([sha256(readFileSync(bundle)), sha256(notV8), notV8])
}

/** The cache file with one bit pattern changed in the middle of its V8 part, as a damaged disk or layer would. */
function flipByteOf (cache: string): void {
  const bytes = readFileSync(cache)
  bytes[Math.floor(bytes.length / 2)]! ^= 0x55
  writeFileSync(cache, bytes)
}

t.test('the cache written after a start is taken by the next start, and refused where it does not fit', async (t) => {
  const { bundle, cache, rewrite } = bundleDir(t, BODY)
  t.same(await loadInFreshProcess(bundle, cache, { write: true }), { codeCache: 'missing', doubled: 42 })
  t.ok(existsSync(cache), 'written')
  t.same(await loadInFreshProcess(bundle, cache), { codeCache: 'accepted', doubled: 42 })
  t.same(await loadInFreshProcess(bundle, cache, { nodeArgs: ['--max-old-space-size=200'] }), { codeCache: 'rejected', doubled: 42 },
    'V8 refuses a cache made with other flags')

  // The same length: V8 alone would take the cache and run the old code.
  rewrite(BODY.replace('double(21)', 'double(12)'))
  t.same(await loadInFreshProcess(bundle, cache), { codeCache: 'stale', doubled: 24 }, 'the bundle changed since: its new code runs')

  writeFileSync(cache, garbledCacheFor(bundle))
  t.same(await loadInFreshProcess(bundle, cache), { codeCache: 'rejected', doubled: 24 }, 'V8 refuses what is no cache of its own')
})

t.test('a cache damaged after it was written is not given to V8, and the bundle is compiled without it', async (t) => {
  const { bundle, cache } = bundleDir(t, BODY)
  await loadInFreshProcess(bundle, cache, { write: true })
  flipByteOf(cache)
  // V8 checks no checksum of a cache's bytes: given this one, it may run damaged bytecode or crash.
  t.same(await loadInFreshProcess(bundle, cache), { codeCache: 'damaged', doubled: 42 })
})

t.test('the cache is written whole or not at all: beside, then renamed over the old one', async (t) => {
  const { bundle, cache } = bundleDir(t, BODY)
  writeFileSync(cache, 'an old cache')
  runBundle(bundle, cache, COMPILED).writeCodeCache()
  t.same(readdirSync(join(cache, '..')).sort(), ['bundle.cjs', 'bundle.cjs.cache', 'dependency.cjs'], 'no part file is left')
  t.not(readFileSync(cache, 'utf8'), 'an old cache')

  rmSync(cache)
  mkdirSync(cache)
  t.throws(() => { runBundle(bundle, cache, COMPILED).writeCodeCache() }, { code: 'EISDIR' }, 'a cache that cannot be replaced fails the build')
  t.same(readdirSync(join(cache, '..')).sort(), ['bundle.cjs', 'bundle.cjs.cache', 'dependency.cjs'], 'and leaves no part file')
})

t.test('in one process, a cache of other source is stale, and V8 checks one for source never compiled there', async (t) => {
  const { bundle, cache, rewrite } = bundleDir(t, BODY)
  runBundle(bundle, cache, COMPILED).writeCodeCache()
  t.ok(existsSync(cache))
  rewrite(BODY.replace('double(21)', 'double(2100)'))
  const changed = runBundle(bundle, cache, COMPILED)
  t.equal(changed.codeCache, 'stale')
  t.equal(changed.exports.doubled, 4200)

  rewrite(BODY.replace('double(21)', 'double(21000)'))
  writeFileSync(cache, garbledCacheFor(bundle))
  const garbled = runBundle(bundle, cache, COMPILED)
  t.equal(garbled.codeCache, 'rejected')
  t.equal(garbled.exports.doubled, 42000)
})

t.test('with source maps on, the bundle is left to Node\'s require(), which maps stack traces through them', async (t) => {
  const { bundle, cache } = bundleDir(t, `${BODY}exports.stack = new Error('where').stack\n`)
  const loaded = runBundle(bundle, cache, { mapStackTraces: true })
  t.equal(loaded.codeCache, 'unused')
  t.equal(loaded.exports.doubled, 42)
  t.match(loaded.exports.stack, `${bundle}:`, 'the bundle is a module of its own, by its path')
  loaded.writeCodeCache()
  t.notOk(existsSync(cache), 'there is no compiled script to write a cache of')
})

t.test('a cache that cannot be read only costs the time to compile', async (t) => {
  const { bundle, cache } = bundleDir(t, BODY)
  mkdirSync(cache)
  const loaded = runBundle(bundle, cache, COMPILED)
  t.equal(loaded.codeCache, 'missing')
  t.equal(loaded.exports.doubled, 42)
})
