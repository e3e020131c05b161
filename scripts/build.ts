import { rm } from 'node:fs/promises'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build, type Plugin } from 'esbuild'

const ROOT = fileURLToPath(new URL('../', import.meta.url))

/** The programs operators run: `node dist/server.js`, `node dist/cli/simulator.js`, `node dist/cli/dlr-url.js`; config.js for scripts/quickstart.sh. */
export const ENTRY_POINTS = ['src/server.ts', 'src/cli/simulator.ts', 'src/cli/dlr-url.ts', 'src/config.ts']

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
 * is what keeps start-up under half a second (bench/README.md). Code paths that are configured
 * off (the in-process simulator, Redis) stay in chunks of their own and are never loaded then.
 * Whitespace and syntax are minified, identifiers are not, so stack traces still read.
 * Types are checked by `npm run typecheck`, not here.
 */
export async function buildDist ({ outDir = 'dist', replace = {} }: BuildOptions = {}): Promise<void> {
  const outdir = resolve(ROOT, outDir)
  await rm(outdir, { recursive: true, force: true })
  await build({
    absWorkingDir: ROOT,
    entryPoints: ENTRY_POINTS,
    outdir,
    outbase: 'src',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: EXTERNAL_PACKAGES,
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    legalComments: 'linked',
    logLevel: 'warning',
    // Bundled CommonJS packages call require() for Node's built-ins and the external packages.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    plugins: Object.keys(replace).length > 0 ? [replaceModules(replace)] : []
  })
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
