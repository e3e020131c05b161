import { existsSync, readFileSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { SourceMap } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * `node --import tsx bench/profile.ts <dir | file.cpuprofile>`: where a V8 CPU profile spent its
 * busy time (idle left out). Two views: by package, with time in Node's core and native code
 * charged to the nearest JavaScript caller outside it (so `http` work done for got counts as got's),
 * and by function, self time. Profiles come from `BENCH_CPU_PROF=<dir> npm run bench send`.
 * The gateway runs as a bundle there, so frames are mapped back to their sources through the
 * bundle's source maps before they are attributed.
 */
interface CallFrame { functionName: string, url: string, lineNumber: number, columnNumber: number }
interface ProfileNode { id: number, callFrame: CallFrame, children?: number[] }
interface CpuProfile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }

const TOP = Number(process.env.TOP ?? 25)
const NOT_BUSY = new Set(['(idle)'])
const sourceMaps = new Map<string, { map: SourceMap, directory: string } | undefined>()
const target = process.argv[2]
if (target === undefined) {
  process.stderr.write('usage: bench/profile.ts <directory or .cpuprofile file>\n')
  process.exit(64)
}
const files = target.endsWith('.cpuprofile')
  ? [target]
  : (await readdir(target)).filter((name) => name.endsWith('.cpuprofile')).map((name) => join(target, name))

for (const file of files) {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile
  for (const node of profile.nodes) node.callFrame = original(node.callFrame)
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parentOf = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id)
  const selfMicros = new Map<number, number>()
  profile.samples.forEach((id, index) => selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)))

  const byPackage = new Map<string, number>()
  const byFunction = new Map<string, number>()
  let busy = 0
  for (const [id, micros] of selfMicros) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame
    if (NOT_BUSY.has(functionName)) continue
    busy += micros
    add(byFunction, `${functionName || '(anonymous)'} ${shorten(url)}:${lineNumber + 1}`, micros)
    add(byPackage, owner(id), micros)
  }
  process.stdout.write(`${file}: ${(busy / 1e6).toFixed(2)} s busy\n\nby package (core and native time charged to the calling package)\n`)
  printTop(byPackage, busy)
  process.stdout.write('\nby function (self time)\n')
  printTop(byFunction, busy)
  process.stdout.write('\n')

  function owner (id: number): string {
    for (let current: number | undefined = id; current !== undefined; current = parentOf.get(current)) {
      const name = packageOf(byId.get(current)!.callFrame.url)
      if (name !== undefined) return name
    }
    const { functionName } = byId.get(id)!.callFrame
    return functionName.startsWith('(') ? functionName : '(node core, no JavaScript caller)'
  }
}

/** The frame in the source it was bundled from, when the script has a source map beside it. */
function original (frame: CallFrame): CallFrame {
  if (!frame.url.startsWith('file://')) return frame
  let entry = sourceMaps.get(frame.url)
  if (!sourceMaps.has(frame.url)) {
    const mapPath = `${fileURLToPath(frame.url)}.map`
    entry = existsSync(mapPath) ? { map: new SourceMap(JSON.parse(readFileSync(mapPath, 'utf8'))), directory: dirname(mapPath) } : undefined
    sourceMaps.set(frame.url, entry)
  }
  if (entry === undefined) return frame
  const found = entry.map.findEntry(frame.lineNumber, frame.columnNumber) as { originalSource?: string, originalLine?: number }
  if (found.originalSource === undefined) return frame
  const source = found.originalSource.startsWith('file://') ? fileURLToPath(found.originalSource) : resolve(entry.directory, found.originalSource)
  return { ...frame, url: `file://${source}`, lineNumber: found.originalLine ?? frame.lineNumber }
}

function add (map: Map<string, number>, key: string, micros: number): void {
  map.set(key, (map.get(key) ?? 0) + micros)
}

function printTop (map: Map<string, number>, total: number): void {
  for (const [key, micros] of [...map].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
    process.stdout.write(`  ${(micros / total * 100).toFixed(1).padStart(5)}%  ${(micros / 1000).toFixed(0).padStart(7)} ms  ${key}\n`)
  }
}

function shorten (url: string): string {
  if (url === '' || url.startsWith('node:')) return url
  const path = url.startsWith('file://') ? fileURLToPath(url) : url
  const modules = path.lastIndexOf('node_modules/')
  if (modules !== -1) return path.slice(modules + 'node_modules/'.length)
  const src = path.lastIndexOf('/src/')
  return src === -1 ? path : path.slice(src + 1)
}

/** The npm package or the project directory (src/plugins, src/sms…) a script belongs to; undefined for Node's own. */
function packageOf (url: string): string | undefined {
  if (url === '' || url.startsWith('node:')) return undefined
  const path = shorten(url)
  if (url.includes('node_modules/')) {
    const [scope, name] = path.split('/')
    return scope!.startsWith('@') ? `${scope}/${name}` : scope
  }
  return path.split('/').slice(0, 2).join('/')
}
