import { readFileSync } from 'node:fs'
import t from 'tap'
import { EnvironmentSchema, SimulatorEnvironmentSchema } from '../src/config.js'
import { ERROR_CATALOGUE, RECIPIENT_ERRORS } from '../src/errors.js'

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')

t.test('the README\'s error table lists every code with its status', async (t) => {
  for (const [code, { status }] of Object.entries(ERROR_CATALOGUE)) {
    const row = readme.split('\n').find((line) => line.startsWith('| ') && line.includes(`\`${code}\``))
    t.ok(row, `${code} has a row`)
    t.match(row ?? '', new RegExp(`\\| ${status} \\|`), `${code} is documented as ${status}`)
  }
})

t.test('the README names every code that appears only on a recipient, next to the error table', async (t) => {
  const errors = readme.slice(readme.indexOf('## Errors'), readme.indexOf('## Configuration'))
  for (const code of Object.keys(RECIPIENT_ERRORS)) t.match(errors, `\`${code}\``, code)
})

t.test('the README names both commands and every script it mentions exists', async (t) => {
  const { scripts } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> }
  for (const [, name] of readme.matchAll(/npm run ([a-z:-]+)/g)) t.ok(scripts[name!], `npm run ${name} exists`)
  t.match(readme, /npm run quickstart/)
  t.match(readme, /npm run check/)
  t.match(readme, /npm test/)
})

t.test('the README\'s configuration table has a row for every variable the gateway and the simulator read', async (t) => {
  const configuration = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('\n## ', readme.indexOf('## Configuration') + 1))
  // A row's first cell names one variable or several: | `SIMULATOR_LATENCY_MS`, `SIMULATOR_DLR_DELAY_MS` | …
  const named = new Set(configuration.split('\n')
    .filter((line) => line.startsWith('| `'))
    .flatMap((line) => [...(line.split('|')[1] ?? '').matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((match) => match[1]!)))
  const read = new Set([EnvironmentSchema, SimulatorEnvironmentSchema].flatMap((schema) => Object.keys(schema.properties)))
  for (const name of read) t.ok(named.has(name), `${name} has a row`)
  for (const name of named) t.ok(read.has(name), `${name}, named in the table, is read by the code`)
})
