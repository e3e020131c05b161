import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import t from 'tap'
import { startGateway, TEST_API_KEY } from '../helper.js'

/** Debian's Chromium, never a downloaded browser. */
const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'
]
/** Generous: a 2-core machine renders Swagger UI's 1 MB bundle slowly. */
const UI_TIMEOUT_MS = 30_000
const SCREENSHOT = new URL('../../test-output/swagger-ui.png', import.meta.url)

function findChromium (): string {
  const found = spawnSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).stdout.trim()
  if (found === '') throw new Error('Chromium is missing: the browser test needs Debian\'s chromium (apt-get install chromium)')
  return found
}

t.test('Swagger UI: authorise, try POST /sms against the simulator, see the message id', async (t) => {
  const executablePath = findChromium()
  const gw = await startGateway(t)
  const profile = await mkdtemp(join(tmpdir(), 'sms-gateway-chromium-'))
  t.teardown(() => rm(profile, { recursive: true, force: true }))
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 1400 },
    timeout: UI_TIMEOUT_MS
  })
  t.teardown(() => browser.close())
  const page = browser.pages()[0] ?? await browser.newPage()
  page.setDefaultTimeout(UI_TIMEOUT_MS)

  // The page runs under the Content-Security-Policy /docs sends: anything it blocks shows here.
  const blocked: string[] = []
  page.on('console', (message) => { if (/Content.Security.Policy/i.test(message.text())) blocked.push(message.text()) })
  const docs = await page.goto(`${gw.url}/docs`)
  t.match(await docs?.headerValue('content-security-policy'), /frame-ancestors 'none'/, '/docs is served with a policy')
  const operation = page.locator('#operations-sms-sendSms')
  await operation.waitFor()

  await page.locator('.scheme-container button.authorize').click()
  const apiKeyScheme = page.locator('.auth-container').filter({ has: page.locator('h4 code', { hasText: /^apiKey$/ }) })
  await apiKeyScheme.locator('input').fill(TEST_API_KEY)
  await apiKeyScheme.getByRole('button', { name: 'Apply credentials' }).click()
  await apiKeyScheme.getByRole('button', { name: /Logout|Remove authorization/ }).waitFor()
  await apiKeyScheme.getByRole('button', { name: 'Close' }).click()
  await page.locator('.modal-ux').waitFor({ state: 'detached' })

  await operation.locator('.opblock-summary').first().click()
  await operation.getByRole('button', { name: 'Try it out' }).click()
  t.match(await operation.locator('textarea.body-param__text').inputValue(), /"to": "\+48500600700"/, 'the body is the documented example')
  await operation.getByRole('button', { name: 'Execute' }).click()

  const live = operation.locator('.live-responses-table')
  await live.locator('.response-col_status', { hasText: '200' }).waitFor()
  const shown = await live.locator('.response-col_description pre').first().innerText()
  const result = JSON.parse(shown) as { queued: number, messages: Array<{ id?: string, status: string }> }
  t.equal(result.queued, 1)
  t.match(result.messages, [{ status: 'queued', id: /^\w+$/ }], 'the rendered answer shows the message id')
  t.equal(gw.simulator.received.length, 1, 'the simulator received the send')
  t.match(await operation.locator('.curl-command').innerText(), `Bearer ${TEST_API_KEY}`, 'the request carried the API key')
  t.same(blocked, [], 'the policy blocked nothing Swagger UI needs')

  // Frame the request body and the rendered answer together, for the README.
  await operation.locator('.opblock-section-request-body').evaluate((element) => element.scrollIntoView({ block: 'start' }))
  await mkdir(new URL('.', SCREENSHOT), { recursive: true })
  await page.screenshot({ path: SCREENSHOT.pathname })
})
