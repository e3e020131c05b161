import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname } from 'node:path'
import { Script } from 'node:vm'

/**
 * Runs a CommonJS bundle with a V8 code cache beside it. Node 20 caches no compiled code of its
 * own, so a cold start parses and compiles the whole bundle; a cache written at build time, once
 * the gateway has started, holds the bytecode of everything a start runs, and V8 takes it instead
 * of compiling (bench/README.md, fourteenth round). The cache file begins with the SHA-256 of the
 * bundle it was made from: V8 itself compares only the source's length, and would run old code
 * for a bundle changed in place. V8 refuses a cache made by another version or with other flags
 * (any, `--max-old-space-size` too). Either way the bundle is compiled as without a cache.
 */

/** Beside the launcher in dist/ (src/launch.ts): the gateway's bundle and its cache. */
export const BUNDLE_FILE = 'gateway.cjs'
export const CODE_CACHE_FILE = 'gateway.cjs.cache'
/** The launcher's argument that makes a start write the cache and stop (the build's). */
export const WRITE_CODE_CACHE = '--write-code-cache'

/**
 * `stale`: made from other source; `rejected`: refused by V8; `missing`: absent or unreadable;
 * `unused`: source maps are on, and only Node's own require() maps a stack trace through them.
 */
export type CodeCacheState = 'accepted' | 'stale' | 'rejected' | 'missing' | 'unused'

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
  const { script, codeCache, digest } = compileBundle(bundlePath, cachePath)
  const wrapper = script.runInThisContext() as ModuleWrapper
  const module = { exports: {} }
  wrapper.call(module.exports, module.exports, require, module, bundlePath, dirname(bundlePath))
  return {
    exports: module.exports as Record<string, unknown>,
    codeCache,
    writeCodeCache: () => { writeFileSync(cachePath, Buffer.concat([digest, script.createCachedData()])) }
  }
}

/**
 * Apart from running the bundle, so that the buffers read are garbage before the bundle's own
 * start allocates: held through it, they would outlive a few young-generation collections and
 * stay in the idle process until a full one. The source is wrapped as bytes, not as a string:
 * a string that large is made in the old generation, and the unwrapped one would stay beside the
 * wrapped one V8 keeps (3 MB each).
 */
function compileBundle (bundlePath: string, cachePath: string): { script: Script, codeCache: CodeCacheState, digest: Buffer } {
  const bundle = readFileSync(bundlePath)
  const digest = createHash('sha256').update(bundle).digest()
  const cache = readCache(cachePath)
  const current = cache !== undefined && cache.subarray(0, digest.length).equals(digest)
  const cachedData = current ? cache.subarray(digest.length) : undefined
  const script = new Script(Buffer.concat([WRAPPER_HEAD, bundle, WRAPPER_TAIL]).toString('utf8'), { filename: bundlePath, cachedData })
  const codeCache = cache === undefined ? 'missing' : !current ? 'stale' : script.cachedDataRejected === true ? 'rejected' : 'accepted'
  return { script, codeCache, digest }
}

/** A cache that cannot be read only costs time: the gateway starts without it. */
function readCache (cachePath: string): Buffer | undefined {
  try {
    return readFileSync(cachePath)
  } catch {
    return undefined
  }
}
