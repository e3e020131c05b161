import { execFile } from 'node:child_process'
import { rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { build, type BuildOptions as EsbuildOptions, type Plugin } from 'esbuild'
import { BUNDLE_FILE, WRITE_CODE_CACHE } from '../src/code-cache.js'

const ROOT = fileURLToPath(new URL('../', import.meta.url))

/**
 * The programs operators run: `node dist/server.js` (the launcher of the gateway's bundle),
 * `node dist/cli/simulator.js`, `node dist/cli/dlr-url.js`; config.js for scripts/quickstart.sh.
 */
export const ENTRY_POINTS = [
  { in: 'src/launch.ts', out: 'server' },
  { in: 'src/cli/simulator.ts', out: 'cli/simulator' },
  { in: 'src/cli/dlr-url.ts', out: 'cli/dlr-url' },
  { in: 'src/config.ts', out: 'config' }
]
/** The gateway itself, one CommonJS bundle that the launcher runs with a code cache (src/code-cache.ts). */
export const GATEWAY_ENTRY = 'src/server.ts'

/**
 * Packages that stay in node_modules, because they load files of their own by path at run time:
 * pino starts transports in a worker thread from a file next to its own, and that worker loads
 * pino-pretty (on a terminal) by name. (swagger-ui's static files are found through the package,
 * src/plugins/swagger.ts.)
 */
export const EXTERNAL_PACKAGES = ['pino']

export interface BuildOptions {
  /** Where the programs go; `dist` by default. */
  outDir?: string
  /** Source files to build in place of others, by path from the project root (the benchmark's candidates). */
  replace?: Record<string, string>
}

/**
 * Bundles the gateway into a few files of plain JavaScript. Loading one bundle instead of ~1,200
 * modules (typebox alone is hundreds of small files) is most of what a cold start costs, so this
 * is what keeps start-up under half a second (bench/README.md). The gateway is one CommonJS file
 * with a code cache (src/code-cache.ts); code paths configured off (the in-process simulator,
 * Redis) are in it, and are set up only when configured. The command-line programs share chunks.
 * Whitespace and syntax are minified, identifiers are not, so stack traces still read.
 * Types are checked by `npm run typecheck`, not here.
 */
export async function buildDist ({ outDir = 'dist', replace = {} }: BuildOptions = {}): Promise<void> {
  const outdir = resolve(ROOT, outDir)
  await rm(outdir, { recursive: true, force: true })
  const common: EsbuildOptions = {
    absWorkingDir: ROOT,
    bundle: true,
    platform: 'node',
    target: 'node20',
    external: EXTERNAL_PACKAGES,
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    legalComments: 'linked',
    logLevel: 'warning',
    plugins: Object.keys(replace).length > 0 ? [replaceModules(replace)] : []
  }
  await build({
    ...common,
    entryPoints: ENTRY_POINTS,
    outdir,
    splitting: true,
    format: 'esm',
    // Bundled CommonJS packages call require() for Node's built-ins and the external packages.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" }
  })
  await build({
    ...common,
    entryPoints: [GATEWAY_ENTRY],
    outfile: join(outdir, BUNDLE_FILE),
    format: 'cjs',
    // For the modules that read it (src/plugins/swagger.ts): a CommonJS module has no import.meta.
    // Strict mode is said first, as esbuild's own "use strict" after a banner is no directive.
    banner: { js: "'use strict'; var __import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
    define: { 'import.meta.url': '__import_meta_url' }
  })
  await writeCodeCache(outdir)
}

const CODE_CACHE_RUN_TIMEOUT_MS = 60_000

/** A first start of the built gateway, which writes the code cache of what it compiled. */
async function writeCodeCache (outdir: string): Promise<void> {
  // Configured enough to start and never reached: nothing is sent, nothing listens for long.
  const env = {
    PATH: process.env.PATH,
    ENV_FILE: '/dev/null',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'warn',
    SERWERSMS_API_URL: 'http://127.0.0.1:9/',
    SERWERSMS_TOKEN: 'code-cache',
    API_KEYS: 'build:code-cache-0123456789abcdef',
    PUBLIC_URL: 'http://127.0.0.1:9',
    DLR_SECRET: 'code-cache-0123456789abcdef0123456789abcdef'
  }
  // A start that never listens, or a handle left open after it closes, fails the build instead of hanging it.
  await promisify(execFile)(process.execPath, [join(outdir, 'server.js'), WRITE_CODE_CACHE], { env, cwd: ROOT, timeout: CODE_CACHE_RUN_TIMEOUT_MS, killSignal: 'SIGKILL' })
}

function replaceModules (replace: Record<string, string>): Plugin {
  const targets = new Map(Object.entries(replace).map(([from, to]) => [resolve(ROOT, from), resolve(ROOT, to)]))
  return {
    name: 'replace-modules',
    setup (build) {
      build.onResolve({ filter: /^\.\.?\// }, async (args) => {
        if (args.pluginData === 'replace-modules') return undefined
        const resolved = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: 'replace-modules' })
        const replacement = targets.get(resolved.path)
        return replacement === undefined ? resolved : { path: replacement }
      })
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const outDir = process.argv[2]
  await buildDist(outDir === undefined ? {} : { outDir })
}
