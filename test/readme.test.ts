import { readFileSync } from 'node:fs'
import t from 'tap'
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
