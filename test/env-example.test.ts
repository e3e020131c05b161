import { readFileSync } from 'node:fs'
import t from 'tap'
import { EnvironmentSchema, SimulatorEnvironmentSchema } from '../src/config.js'

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
