import { createHash } from 'node:crypto'
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname } from 'node:path'
import { Script } from 'node:vm'

/**
 * Runs a CommonJS bundle with a V8 code cache beside it. Node 20 caches no compiled code of its
 * own, so a cold start parses and compiles the whole bundle; a cache written at build time, once
 * the gateway has started, holds the bytecode of everything a start runs, and V8 takes it instead
 * of compiling (bench/README.md, fourteenth round). The cache file begins with the SHA-256 of the
 * bundle it was made from: V8 itself compares only the source's length, and would run old code
 * for a bundle changed in place. Then comes the SHA-256 of the V8 cache that follows: V8 checks
 * only its version, flags and length, not its bytes (a release build of Node has no checksum of
 * it), and runs damaged bytecode — one flipped byte made every start segfault, and as the cache
 * ships in the image, every replica. V8 refuses a cache made by another version or with other
 * flags (any, `--max-old-space-size` too). In each case the bundle is compiled as without a cache.
 */

/** Beside the launcher in dist/ (src/launch.ts): the gateway's bundle and its cache. */
export const BUNDLE_FILE = 'gateway.cjs'
export const CODE_CACHE_FILE = 'gateway.cjs.cache'
/** The launcher's argument that makes a start write the cache and stop (the build's). */
export const WRITE_CODE_CACHE = '--write-code-cache'

/** What became of the cache at a start, and why: the launcher's debug line says both. */
export const CODE_CACHE_STATES = {
  accepted: 'V8 took it',
  stale: 'made from other source, compiled without it',
  damaged: 'its bytes are not those written (checksum), compiled without it',
  rejected: 'refused by V8 (another Node version or other V8 flags), compiled without it',
  missing: 'absent or unreadable, compiled without it',
  unused: 'source maps are on, and only Node\'s own require() maps a stack trace through them'
} as const
export type CodeCacheState = keyof typeof CODE_CACHE_STATES

export interface LoadedBundle {
  /** what the bundle put on `module.exports` */
  exports: Record<string, unknown>
  codeCache: CodeCacheState
  /** writes a cache of everything compiled so far, for the next start */
  writeCodeCache: () => void
}

// As Node's own CommonJS loader wraps a module; the head stays on line 1, so line numbers hold.
const WRAPPER_HEAD = Buffer.from('(function (exports, require, module, __filename, __dirname) { ')
const WRAPPER_TAIL = Buffer.from('\n});')

type ModuleWrapper = (exports: object, require: NodeJS.Require, module: { exports: object }, filename: string, dirname: string) => void

export interface RunOptions {
  /** leave the bundle to require(), so that stack traces are mapped (with `--enable-source-maps`) */
  mapStackTraces: boolean
}

export function runBundle (bundlePath: string, cachePath: string, { mapStackTraces }: RunOptions): LoadedBundle {
  const require = createRequire(bundlePath)
  if (mapStackTraces) {
    return { exports: require(bundlePath) as Record<string, unknown>, codeCache: 'unused', writeCodeCache: () => {} }
  }
  const { script, codeCache, bundleDigest } = compileBundle(bundlePath, cachePath)
  const wrapper = script.runInThisContext() as ModuleWrapper
  const module = { exports: {} }
  wrapper.call(module.exports, module.exports, require, module, bundlePath, dirname(bundlePath))
  return {
    exports: module.exports as Record<string, unknown>,
    codeCache,
    writeCodeCache: () => { writeCacheFile(cachePath, bundleDigest, script.createCachedData()) }
  }
}

const sha256 = (bytes: Buffer): Buffer => createHash('sha256').update(bytes).digest()
const DIGEST_LENGTH = 32

/**
 * Written beside and renamed over the cache, so that a start never reads one half written (a
 * build stopped midway, a disk full): it finds the old cache or the new one, whole.
 */
function writeCacheFile (cachePath: string, bundleDigest: Buffer, cachedData: Buffer): void {
  const partPath = `${cachePath}.${process.pid}.part`
  try {
    writeFileSync(partPath, Buffer.concat([bundleDigest, sha256(cachedData), cachedData]))
    renameSync(partPath, cachePath)
  } finally {
    rmSync(partPath, { force: true })
  }
}

/**
 * Apart from running the bundle, so that the buffers read are garbage before the bundle's own
 * start allocates: held through it, they would outlive a few young-generation collections and
 * stay in the idle process until a full one. The source is wrapped as bytes, not as a string:
 * a string that large is made in the old generation, and the unwrapped one would stay beside the
 * wrapped one V8 keeps (3 MB each).
 */
function compileBundle (bundlePath: string, cachePath: string): { script: Script, codeCache: CodeCacheState, bundleDigest: Buffer } {
  const bundle = readFileSync(bundlePath)
  const bundleDigest = sha256(bundle)
  const { cachedData, state } = checkCache(readCache(cachePath), bundleDigest)
  const script = new Script(Buffer.concat([WRAPPER_HEAD, bundle, WRAPPER_TAIL]).toString('utf8'), { filename: bundlePath, cachedData })
  const codeCache = state ?? (script.cachedDataRejected === true ? 'rejected' : 'accepted')
  return { script, codeCache, bundleDigest }
}

/**
 * The V8 cache in the file, when it was made from this bundle and is as it was written (its
 * SHA-256 costs ~2 ms of a start for 2 MB); else why it is not given to V8.
 */
function checkCache (cache: Buffer | undefined, bundleDigest: Buffer): { cachedData?: Buffer, state?: CodeCacheState } {
  if (cache === undefined) return { state: 'missing' }
  if (!cache.subarray(0, DIGEST_LENGTH).equals(bundleDigest)) return { state: 'stale' }
  const cachedData = cache.subarray(2 * DIGEST_LENGTH)
  if (!cache.subarray(DIGEST_LENGTH, 2 * DIGEST_LENGTH).equals(sha256(cachedData))) return { state: 'damaged' }
  return { cachedData }
}

/** A cache that cannot be read only costs time: the gateway starts without it. */
function readCache (cachePath: string): Buffer | undefined {
  try {
    return readFileSync(cachePath)
  } catch {
    return undefined
  }
}
