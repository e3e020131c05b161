// Dockerfile and .dockerignore: dockerfile-utils lint accepts the Dockerfile,
// and it has the shape the issue asks for. No Docker engine is needed; the
// real build and run are scripts/test-container.sh (npm run test:container).
import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readText, repoPath, run } from './helpers.js'

const dockerfile = readText('Dockerfile')
// Instructions with their continuation lines joined, comments dropped.
const instructions = dockerfile
  .replace(/\\\r?\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'))
const stages = instructions.reduce<string[][]>((acc, l) => {
  if (/^FROM\s/i.test(l)) acc.push([l])
  else acc[acc.length - 1]?.push(l)
  return acc
}, [])
const runtime = stages[stages.length - 1] ?? []

t.test('dockerfile-utils lint accepts the Dockerfile', async (t) => {
  const bin = repoPath('node_modules', '.bin', 'dockerfile-utils')
  t.ok(existsSync(bin), 'dockerfile-utils is installed (devDependency)')
  const r = run(bin, ['lint', 'Dockerfile'])
  t.equal(r.status, 0, 'exit 0', { output: r.output })
  t.equal(r.output.trim(), '', 'no errors or warnings')
})

t.test('multi-stage on node:20-bookworm-slim', async (t) => {
  const froms = stages.map((s) => s[0] ?? '')
  t.ok(froms.length >= 2, 'at least a build and a runtime stage')
  for (const f of froms) t.match(f, /^FROM node:20-bookworm-slim AS \w+$/, 'exact base image name (scripts/offline-base-image.sh builds it)')
  const build = stages.find((s) => /AS build$/.test(s[0] ?? '')) ?? []
  t.ok(build.some((l) => /^RUN npm ci\b(?!.*--omit=dev)/.test(l)), 'build stage installs dev dependencies')
  t.ok(build.some((l) => /^RUN npm run build\b/.test(l)), 'build stage compiles')
  t.ok(instructions.some((l) => /^RUN npm ci .*--omit=dev/.test(l)), 'production dependencies with npm ci --omit=dev')
  t.ok(runtime.some((l) => /^COPY --from=build \/app\/dist \.\/dist$/.test(l)), 'runtime gets the compiled dist/')
  t.notOk(runtime.some((l) => /^COPY (\.|src)\b/.test(l)), 'runtime does not get the sources')
  t.notOk(runtime.some((l) => /^RUN npm ci(?!.*--omit=dev)/.test(l)), 'runtime has no dev dependencies')
})

t.test('runtime stage: non-root, healthcheck, signals, ports, labels', async (t) => {
  const users = runtime.filter((l) => /^USER\s/.test(l))
  t.equal(users.length, 1, 'one USER')
  t.match(users[0], /^USER (node|[1-9]\d*)(:\S+)?$/, 'not root')
  t.ok(runtime.findIndex((l) => /^USER\s/.test(l)) > runtime.findIndex((l) => /^COPY --from=build/.test(l)), 'USER after the files are in place')
  const hc = runtime.find((l) => /^HEALTHCHECK\s/.test(l)) ?? ''
  t.match(hc, /\/healthz/, 'HEALTHCHECK on /healthz')
  t.match(hc, /process\.env\.PORT/, 'HEALTHCHECK follows PORT')
  t.ok(runtime.includes('EXPOSE 3000'), 'EXPOSE 3000')
  t.ok(runtime.includes('STOPSIGNAL SIGTERM'), 'STOPSIGNAL SIGTERM')
  const cmd = runtime.find((l) => /^CMD\s/.test(l)) ?? ''
  t.equal(cmd, 'CMD ["node", "dist/server.js"]', 'exec form: node gets the signals directly (no npm / shell in between)')
  const labels = runtime.filter((l) => /^LABEL\s/.test(l)).join(' ')
  for (const k of ['title', 'description', 'version', 'revision']) t.match(labels, new RegExp(`org\\.opencontainers\\.image\\.${k}=`), `label ${k}`)
  t.ok(runtime.some((l) => /^ENV .*NODE_ENV=production/.test(l)), 'NODE_ENV=production')
})

t.test('the HEALTHCHECK probes the address the gateway listens on (HOST), loopback when it listens on all', async (t) => {
  const hc = runtime.find((l) => /^HEALTHCHECK\s/.test(l)) ?? ''
  const probe = JSON.parse(hc.slice(hc.indexOf('CMD') + 3).trim()) as string[]
  t.equal(probe[0], 'node')
  /** The probe's exit code against a /healthz server listening on `address`, with HOST as given. */
  const exitOf = async (address: string, host: string | undefined): Promise<number | null> => {
    const server: Server = createServer((request, response) => { response.writeHead(request.url === '/healthz' ? 200 : 404).end() })
    await new Promise<void>((resolve) => server.listen(0, address, resolve))
    t.teardown(() => server.close())
    const env: Record<string, string | undefined> = { PATH: process.env.PATH, PORT: String((server.address() as AddressInfo).port), HOST: host }
    const child = spawn(process.execPath, probe.slice(1), { env, stdio: 'ignore' })
    const [code] = await once(child, 'exit') as [number | null]
    return code
  }
  t.equal(await exitOf('127.0.0.1', undefined), 0, 'HOST unset: 127.0.0.1')
  t.equal(await exitOf('127.0.0.1', '0.0.0.0'), 0, 'HOST=0.0.0.0: 127.0.0.1')
  t.equal(await exitOf('::1', '::1'), 0, 'HOST=::1: [::1]')
  t.equal(await exitOf('127.0.0.2', '127.0.0.2'), 0, 'HOST set to one address: that address')
  t.equal(await exitOf('127.0.0.2', '127.0.0.1'), 1, 'and unhealthy when nothing answers there')
  // A HOST with its interface, the form the listen error advises for a link-local address
  // (fe80::1%eth0): checked as ::1%lo, where this machine can listen on it.
  const scoped = await new Promise<boolean>((resolve) => {
    const server = createServer().once('error', () => { resolve(false) })
    server.listen(0, '::1%lo', () => { server.close(() => { resolve(true) }) })
  })
  if (scoped) t.equal(await exitOf('::1%lo', '::1%lo'), 0, 'HOST with an interface (fe80::1%eth0 in its form): probed as written')
})

t.test('.dockerignore keeps node_modules, tests and secrets out', async (t) => {
  const lines = readText('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
  t.equal(lines[0], '*', 'allowlist: everything excluded first')
  const allowed = lines.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''))
  t.same(allowed.sort(), ['package-lock.json', 'package.json', 'scripts/build.ts', 'src', 'tsconfig.json'])
  // The Dockerfile may only COPY from the context what the allowlist lets in.
  for (const l of instructions.filter((i) => /^COPY (?!--from)/.test(i))) {
    const srcs = l.replace(/^COPY\s+(--\S+\s+)*/, '').split(/\s+/).slice(0, -1)
    for (const s of srcs) t.ok(allowed.includes(s.replace(/\/$/, '')), `${s} is in the build context`)
  }
  for (const deny of ['**/node_modules', '**/.env', '**/.env.*', '**/*.pem', '**/*.key']) {
    t.ok(lines.includes(deny), `${deny} re-excluded after the allowlist`)
  }
  t.notOk(allowed.some((a) => /^(test|node_modules|dist|\.env|\.git|coverage)/.test(a)), 'nothing unwanted allowed')
})

t.test('scripts are valid bash', async (t) => {
  for (const s of ['scripts/offline-base-image.sh', 'scripts/test-container.sh']) {
    const r = run('bash', ['-n', s])
    t.equal(r.status, 0, `bash -n ${s}`, { output: r.output })
  }
})
