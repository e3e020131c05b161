import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * `node --import tsx bench/profile.ts <dir | file.cpuprofile>`: where a V8 CPU profile spent its
 * busy time (idle left out). Two views: by package, with time in Node's core and native code
 * charged to the nearest JavaScript caller outside it (so `http` work done for got counts as got's),
 * and by function, self time. Profiles come from `BENCH_CPU_PROF=<dir> npm run bench send`.
 */
interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }
interface CpuProfile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }

const TOP = Number(process.env.TOP ?? 25)
const NOT_BUSY = new Set(['(idle)'])
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
