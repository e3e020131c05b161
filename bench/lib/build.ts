import { copyFile, cp, mkdir, mkdtemp, readdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { rmSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
/** Outside the work tree, so linters and other runs never see it; one per run, removed at exit. */
export const WORK_DIR = await mkdtemp(join(tmpdir(), 'sms-gateway-bench-'))
process.once('exit', () => rmSync(WORK_DIR, { recursive: true, force: true }))
const BUILD_DIR = join(WORK_DIR, 'build')

/** Builds of the gateway: as in src/, or with a candidate module from bench/candidates in place of its own. */
export type GatewayVariant = 'as-is' | 'got-client'
const VARIANT_SWAPS: Record<Exclude<GatewayVariant, 'as-is'>, { replaces: string, with: string }> = {
  'got-client': { replaces: 'src/serwersms/client.ts', with: 'bench/candidates/serwersms-client-got.ts' }
}
/** Directories the benchmark runs as plain JavaScript: the gateway and the processes beside it. */
const SOURCES = ['src', 'bench/lib', 'bench/procs', 'bench/candidates']

/**
 * Every process under test runs compiled JavaScript, as in production (`node dist/server.js`),
 * so neither side pays a TypeScript loader at start-up or at run time. Files are transpiled one by
 * one (no type check: that is `npm test`'s job, and a half-edited file elsewhere must not stop a
 * benchmark). The tree keeps its depth so `src/plugins/swagger.ts` still finds `../../package.json`,
 * and packages resolve through a link to the project's node_modules.
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
  await finishTree(BUILD_DIR)
  for (const [variant, swap] of Object.entries(VARIANT_SWAPS)) {
    const tree = join(WORK_DIR, variant)
    await cp(join(BUILD_DIR, 'src'), join(tree, 'src'), { recursive: true })
    // The candidate's imports ('../../src/…') resolve the same from the module it replaces.
    await copyFile(builtPath(swap.with), join(tree, swap.replaces.replace(/\.ts$/, '.js')))
    await finishTree(tree)
  }
  process.stderr.write(`bench: transpiled ${files} files in ${Math.round(performance.now() - started)} ms\n`)
  return BUILD_DIR
}

/** The path of a compiled module, e.g. `builtPath('src/server.ts')`. */
export function builtPath (sourcePath: string, variant: GatewayVariant = 'as-is'): string {
  return join(variant === 'as-is' ? BUILD_DIR : join(WORK_DIR, variant), sourcePath.replace(/\.ts$/, '.js'))
}

async function finishTree (tree: string): Promise<void> {
  await copyFile(join(ROOT, 'package.json'), join(tree, 'package.json'))
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
