// Shared helpers for test/deploy/*.test.ts. Not a test file itself (add it to
// tap's "exclude" list in package.json).
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import { parse } from 'yaml'
import { startGateway } from '../helper.js'
import { metricNamesInExposition } from './promql.js'

/** Repository root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url))

export function repoPath (...parts: string[]): string {
  return join(ROOT, ...parts)
}

export function readText (...parts: string[]): string {
  return readFileSync(repoPath(...parts), 'utf8')
}

/** Parse a YAML file of the repo (merge keys `<<:` enabled, as docker-compose does). */
export function readYaml<T = unknown> (...parts: string[]): T {
  return parse(readText(...parts), { merge: true }) as T
}

export interface RunResult {
  status: number | null
  stdout: string
  stderr: string
  output: string
}

export function run (cmd: string, args: string[], opts: { cwd?: string, env?: NodeJS.ProcessEnv, timeout?: number } = {}): RunResult {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd ?? ROOT,
    env: opts.env ?? process.env,
    encoding: 'utf8',
    timeout: opts.timeout ?? 60_000
  })
  const stdout = r.stdout ?? ''
  const stderr = r.stderr ?? (r.error ? String(r.error) : '')
  return { status: r.status, stdout, stderr, output: `${stdout}${stderr}` }
}

/** Absolute path of an executable on PATH (or an absolute path that exists), else undefined. */
export function findTool (name: string): string | undefined {
  if (name.includes('/')) return existsSync(name) ? name : undefined
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    const p = join(dir, name)
    if (existsSync(p)) return p
  }
  return undefined
}

/**
 * Why a tool is missing, for t.fail / t.skip. In CI (CI=true) a missing tool is
 * a failure, so that the checks can never pass by being skipped there.
 */
function missingTool (name: string, debianPackage: string): { fail: boolean, message: string } {
  return {
    fail: process.env.CI === 'true' || process.env.CI === '1',
    message: `${name} not found: apt-get install -y ${debianPackage}`
  }
}

/** The tool's path; undefined once the test has failed (in CI) or been skipped for want of it. */
export function toolFor (t: Test, name: string, debianPackage: string, path = name): string | undefined {
  const found = findTool(path)
  if (found !== undefined) return found
  const { fail, message } = missingTool(name, debianPackage)
  if (fail) t.fail(message)
  else t.ok(true, message, { skip: message })
  return undefined
}

/**
 * The metric names a real gateway exports (histograms expanded to _bucket/_sum/_count): GET /metrics
 * of one started on a loopback port. Every metric is declared at start, so its # TYPE line is there
 * before anything is counted.
 */
export async function exportedMetricNames (t: Test): Promise<string[]> {
  const gw = await startGateway(t)
  const response = await fetch(`${gw.url}/metrics`)
  if (response.status !== 200) throw new Error(`GET /metrics answered ${response.status}`)
  return metricNamesInExposition(await response.text())
}
