import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

/** .ci/run as CI runs it, with an npm that stands in for the real one: what it is asked to run, and what it prints last. */

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

t.test('.ci/run runs `npm run check` and ends with its counts: npm prints no update notice after them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sms-gateway-ci-run-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const calls = join(dir, 'calls')
  // Like npm: the command's output, then, unless update-notifier is off, a notice on stderr as it exits.
  writeFileSync(join(dir, 'npm'), `#!/usr/bin/env bash
echo "$*" >> '${calls}'
echo "12 passed, 0 failed"
notifier=\${NPM_CONFIG_UPDATE_NOTIFIER:-\${npm_config_update_notifier:-true}}
[ "$notifier" = false ] || echo "npm notice New major version of npm available! 10.8.2 -> 11.0.0" >&2
`)
  chmodSync(join(dir, 'npm'), 0o755)
  const run = spawnSync('bash', ['-c', '.ci/run 2>&1'], { cwd: ROOT, encoding: 'utf8', env: { PATH: `${dir}:${process.env.PATH}`, HOME: dir } })
  t.equal(run.status, 0, 'exits as npm did')
  t.equal(readFileSync(calls, 'utf8'), 'run check\n', 'the one command: npm run check')
  t.equal(run.stdout.trimEnd().split('\n').at(-1), '12 passed, 0 failed', `the last line is the counts: ${run.stdout}`)
})
