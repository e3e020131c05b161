import { readFileSync } from 'node:fs'
import t from 'tap'
import { EnvironmentSchema, loadConfig, SimulatorEnvironmentSchema } from '../src/config.js'
import { testEnvironment } from './helper.js'

const example = readFileSync(new URL('../.env.example', import.meta.url), 'utf8')
const documented = new Map<string, string>()
for (const line of example.split('\n')) {
  const match = /^#? ?([A-Z][A-Z0-9_]+)=(.*)$/.exec(line)
  if (match !== null) documented.set(match[1]!, match[2]!)
}

t.test('.env.example documents every variable the code reads, with its default', async (t) => {
  const schemas = [EnvironmentSchema, SimulatorEnvironmentSchema]
  const read = new Set(schemas.flatMap((schema) => Object.keys(schema.properties)))
  for (const name of read) {
    t.ok(documented.has(name), `${name} is in .env.example`)
    const fallback = schemas.map((schema) => (schema.properties as Record<string, { default?: unknown }>)[name]?.default).find((d) => d !== undefined)
    if (fallback !== undefined) t.equal(documented.get(name), String(fallback), `${name} shows its default`)
  }
  for (const name of documented.keys()) t.ok(read.has(name), `${name} in .env.example is read by the code`)
})

t.test('the API keys .env.example prints are refused in front of SerwerSMS itself, as every printed key is', async (t) => {
  const sample = documented.get('API_KEYS')
  t.ok(sample !== undefined && sample !== '', 'it prints sample keys')
  t.throws(() => loadConfig(testEnvironment({ API_KEYS: sample, SERWERSMS_API_URL: 'https://api2.serwersms.pl/' })), /^API_KEYS entry 1 has a key published in this repository/)
  const second = sample!.split(',').slice(1).join(',')
  t.throws(() => loadConfig(testEnvironment({ API_KEYS: `ok:${'k'.repeat(24)},${second}`, SERWERSMS_API_URL: 'https://api2.serwersms.pl/' })), /^API_KEYS entry 2 has a key published in this repository/)
})
