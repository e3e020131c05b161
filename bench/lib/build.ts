import { copyFile, mkdir, rm, mkdtemp, readdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { rmSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { buildDist } from '../../scripts/build.js'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
/** Outside the work tree, so linters and other runs never see it; one per run, removed at exit. */
export const WORK_DIR = await mkdtemp(join(tmpdir(), 'sms-gateway-bench-'))
process.once('exit', () => rmSync(WORK_DIR, { recursive: true, force: true }))
const BUILD_DIR = join(WORK_DIR, 'build')

/** Builds of the gateway: as in src/, or with a candidate module from bench/candidates in place of its own. */
export type GatewayVariant = 'as-is' | 'got-client'
const VARIANT_SWAPS: Record<GatewayVariant, Record<string, string>> = {
  'as-is': {},
  'got-client': { 'src/serwersms/client.ts': 'bench/candidates/serwersms-client-got.ts' }
}
/** Directories the benchmark runs as plain JavaScript: the processes beside the gateway, and the src/ modules they use. */
const SOURCES = ['src', 'bench/lib', 'bench/procs', 'bench/candidates']

/**
 * The gateway runs as operators run it: the production bundle (`npm run build`, scripts/build.ts),
 * once as it is and once per candidate swapped in. The processes beside it run compiled JavaScript
 * too, so no side pays a TypeScript loader at start-up or at run time; they are transpiled file by
 * file (no type check: that is `npm test`'s job, and a half-edited file elsewhere must not stop a
 * benchmark). Every tree resolves packages through a link to the project's node_modules.
 */
export async function buildForBench (): Promise<string> {
  const started = performance.now()
  const compilerOptions = readCompilerOptions()
  let files = 0
  for (const source of SOURCES) {
    for (const file of await listTypeScript(join(ROOT, source))) {
      const text = await readFile(file, 'utf8')
      const { outputText } = ts.transpileModule(text, { compilerOptions, fileName: file })
      const target = join(BUILD_DIR, relative(ROOT, file)).replace(/\.ts$/, '.js')
      await mkdir(dirname(target), { recursive: true })
      await writeFile(target, outputText)
      files++
    }
  }
  await makeRunnable(BUILD_DIR)
  for (const [variant, replace] of Object.entries(VARIANT_SWAPS)) {
    const tree = gatewayTree(variant as GatewayVariant)
    // Runnable before it is built: the build starts the gateway once to write its code cache.
    await makeRunnable(tree)
    await buildDist({ outDir: join(tree, 'dist'), replace })
  }
  process.stderr.write(`bench: transpiled ${files} files in ${Math.round(performance.now() - started)} ms\n`)
  return BUILD_DIR
}

/** The path of a compiled module, e.g. `builtPath('bench/procs/simulator.ts')`. */
export function builtPath (sourcePath: string): string {
  return join(BUILD_DIR, sourcePath.replace(/\.ts$/, '.js'))
}

/** The gateway's `server.js` in the production bundle of a variant. */
export function gatewayEntry (variant: GatewayVariant = 'as-is'): string {
  return join(gatewayTree(variant), 'dist', 'server.js')
}

/**
 * With BENCH_CPU_PROF the bundles go beside the profiles, source maps included, so that
 * bench/profile.ts can map the profiled frames back to src/ and the packages after the run.
 */
function gatewayTree (variant: GatewayVariant): string {
  const profileDir = process.env.BENCH_CPU_PROF
  return profileDir === undefined ? join(WORK_DIR, `gateway-${variant}`) : resolve(profileDir, 'builds', `gateway-${variant}`)
}

/** What a tree of ES modules needs to run: package.json (its "type": "module") and the project's packages. */
export async function makeRunnable (tree: string): Promise<void> {
  await mkdir(tree, { recursive: true })
  await copyFile(join(ROOT, 'package.json'), join(tree, 'package.json'))
  await rm(join(tree, 'node_modules'), { force: true })
  await symlink(join(ROOT, 'node_modules'), join(tree, 'node_modules'), 'dir')
}

function readCompilerOptions (): ts.CompilerOptions {
  const configPath = join(ROOT, 'tsconfig.json')
  const { config } = ts.readConfigFile(configPath, ts.sys.readFile)
  const { options } = ts.parseJsonConfigFileContent(config, ts.sys, ROOT)
  // Every file is an ES module (package.json "type": "module"); NodeNext would need the package scope to tell.
  return { ...options, module: ts.ModuleKind.ES2022, moduleResolution: ts.ModuleResolutionKind.Bundler, noEmit: false, sourceMap: false, inlineSourceMap: false, declaration: false }
}

async function listTypeScript (directory: string): Promise<string[]> {
  const files: string[] = []
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name)
    if (entry.isDirectory()) files.push(...await listTypeScript(path))
    else if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) files.push(path)
  }
  return files
}
