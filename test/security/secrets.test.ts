import t, { type Test } from 'tap'
import { DLR_PLACEHOLDERS } from '../../src/dlr/signing.js'
import { DLR_SECRET, OTHER_API_KEY, startGateway, TEST_API_KEY, type GatewayUnderTest, type StartOptions } from '../helper.js'
import { waitFor } from '../servers.js'

/**
 * The main flows with credentials the test knows, then a search for every one of them in every
 * log line and every answer. Secrets are made distinctive so that a hit cannot be a coincidence.
 */

const TOKEN = 'tok-S3CRET-upstream-9f8e7d6c5b4a'
const USERNAME = 'usr-S3CRET-login-1a2b3c'
const PASSWORD = 'pwd-S3CRET-password-4d5e6f7a8b'
const METRICS_TOKEN = 'mtr-S3CRET-metrics-0a1b2c3d4e'
/** A key a caller presents that no client has: possibly some other system's real secret. */
const PRESENTED_WRONG_KEY = 'wrong-S3CRET-presented-key-77'
const PUBLIC_URL = 'https://sms.example.com'

/** National numbers of every phone the flows send to; none may appear in an info-level log. */
const PHONES = ['500600700', '510600701', '730600702', '880600703', '600600704', '660600705']
const e164 = (national: string) => `+48${national}`

interface Seen { what: string, status: number, headers: string, body: string }

class Recorder {
  readonly seen: Seen[] = []
  readonly signatures = new Set<string>()

  constructor (readonly gw: GatewayUnderTest) {}

  async call (what: string, path: string, init: { method?: string, headers?: Record<string, string>, body?: string } = {}): Promise<Seen> {
    const response = await fetch(`${this.gw.url}${path}`, { method: init.method ?? 'GET', headers: init.headers ?? {}, ...(init.body === undefined ? {} : { body: init.body }) })
    const seen = { what, status: response.status, headers: JSON.stringify([...response.headers]), body: await response.text() }
    this.seen.push(seen)
    return seen
  }

  async sendSms (what: string, body: unknown, headers: Record<string, string> = {}): Promise<Seen> {
    return this.call(what, '/sms', {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body)
    })
  }

  /** Every dlr_url the provider was given, with its signature noted as a secret. */
  dlrUrls (): string[] {
    const urls = this.gw.simulator.received.map((r) => r.body.dlr_url).filter((u): u is string => typeof u === 'string')
    for (const url of urls) {
      const sig = new URL(url.replaceAll('#', '')).searchParams.get('sig')
      if (sig !== null) this.signatures.add(sig)
    }
    return urls
  }
}

/** What the provider does with a dlr_url: fills in the placeholders and calls it. */
function deliveryPath (dlrUrl: string, messageId: string, state: string): string {
  return dlrUrl
    .replace(PUBLIC_URL, '')
    .replace(DLR_PLACEHOLDERS.id, encodeURIComponent(messageId))
    .replace(DLR_PLACEHOLDERS.state, encodeURIComponent(state))
    .replace(DLR_PLACEHOLDERS.date, encodeURIComponent('2026-01-01 12:00:00'))
    .replace(DLR_PLACEHOLDERS.reason, '')
}

/** Sends, refusals, provider failures, replays, delivery reports and the operational endpoints. */
async function runMainFlows (t: Test, r: Recorder): Promise<void> {
  const { gw } = r
  const ok = await r.sendSms('send', { to: [e164(PHONES[0]!), PHONES[1]!], text: 'Your code is 4711' })
  t.equal(ok.status, 200, 'a send goes through')
  const messageIds = (JSON.parse(ok.body) as { messages: Array<{ id: string }> }).messages.map((m) => m.id)

  // Tomorrow at 10:30 UTC: never in the hour Polish clocks repeat, which the gateway refuses.
  const tomorrow = new Date(Date.now() + 86_400_000)
  tomorrow.setUTCHours(10, 30, 0, 0)
  t.equal((await r.sendSms('scheduled send', { to: e164(PHONES[2]!), text: 'later', sendAt: tomorrow.toISOString(), uniqueId: 'order4711' })).status, 200)
  t.equal((await r.sendSms('invalid and valid numbers', { to: [PHONES[3]!, '45616', 'call me'], text: 'x' })).status, 200)

  // Provider failures of every kind the gateway tells apart.
  const faults = [
    { name: 'wrong credentials (1001)', fault: { kind: 'provider-error', code: 1001, message: 'Wrong login or password' }, status: 502 },
    { name: 'account locked (1002)', fault: { kind: 'provider-error', code: 1002 }, status: 502 },
    { name: 'refused (3101)', fault: { kind: 'provider-error', code: 3101, message: 'The message is empty' }, status: 422 },
    { name: 'HTTP 500', fault: { kind: 'http-error', status: 500 }, status: 502 },
    { name: 'HTML error page', fault: { kind: 'html' }, status: 502 },
    { name: 'garbage', fault: { kind: 'garbage' }, status: 502 },
    { name: 'truncated', fault: { kind: 'truncated' }, status: 502 },
    { name: 'connection reset', fault: { kind: 'reset' }, status: 502 },
    { name: 'hang', fault: { kind: 'hang' }, status: 504 }
  ] as const
  for (const { name, fault, status } of faults) {
    gw.simulator.setFault({ fault, times: 1 })
    t.equal((await r.sendSms(`provider: ${name}`, { to: e164(PHONES[4]!), text: 'x' })).status, status, `provider ${name} → ${status}`)
  }
  gw.simulator.setFault(null)

  // Refused before sending.
  const refusals: Array<[string, unknown, number]> = [
    ['validation', { to: e164(PHONES[5]!), text: '', extra: TOKEN }, 400],
    ['malformed', `{"to":"${e164(PHONES[5]!)}","text":`, 400],
    ['past sendAt', { to: e164(PHONES[5]!), text: 'x', sendAt: '2020-01-01T00:00:00Z' }, 400],
    ['utf without sender', { to: e164(PHONES[5]!), text: 'ż', utf: true }, 400]
  ]
  for (const [name, body, status] of refusals) t.equal((await r.sendSms(name, body)).status, status, `${name} → ${status}`)

  for (const [name, authorization] of [
    ['no key', undefined], ['wrong key', `Bearer ${PRESENTED_WRONG_KEY}`], ['basic', `Basic ${Buffer.from(`x:${PRESENTED_WRONG_KEY}`).toString('base64')}`],
    ['malformed bearer', `Bearer ${PRESENTED_WRONG_KEY} extra`], ['metrics token as an API key', `Bearer ${METRICS_TOKEN}`]
  ] as const) {
    const seen = await r.call(`unauthorised: ${name}`, '/sms', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) },
      body: JSON.stringify({ to: e164(PHONES[5]!), text: 'x' })
    })
    t.equal(seen.status, 401, `unauthorised (${name}) → 401`)
  }

  // Idempotent replay, a reused key, a second client.
  const order = { to: e164(PHONES[1]!), text: 'Pay 10 PLN' }
  t.equal((await r.sendSms('keyed', order, { 'idempotency-key': 'order-1' })).status, 200)
  const replay = await r.sendSms('replayed', order, { 'idempotency-key': 'order-1' })
  t.equal(replay.status, 200)
  t.match(replay.headers, /idempotent-replayed/)
  t.equal((await r.sendSms('key reused', { ...order, text: 'Pay 1000 PLN' }, { 'idempotency-key': 'order-1' })).status, 422)
  t.equal((await r.sendSms('other client', order, { authorization: `Bearer ${OTHER_API_KEY}` })).status, 200)

  // Delivery reports, as the provider would push them, and forgeries.
  const dlrUrls = r.dlrUrls()
  t.ok(dlrUrls.length > 0 && r.signatures.size > 0, 'sends carried signed dlr_urls')
  const dlrUrl = dlrUrls[0]!
  for (const [i, id] of messageIds.entries()) {
    t.equal((await r.call('report', deliveryPath(dlrUrl, id, i === 0 ? 'delivered' : 'undelivered'))).status, 200, 'an authentic report is accepted')
  }
  t.equal((await r.call('repeated report', deliveryPath(dlrUrl, messageIds[0]!, 'delivered'))).status, 200)
  const [path, query] = deliveryPath(dlrUrl, messageIds[0]!, 'sent').split('?') as [string, string]
  t.equal((await r.call('posted report', path + '?' + query.split('&').filter((p) => /^(t|e|sig)=/.test(p)).join('&'), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `smsid=${messageIds[0]!}&stan=sent`
  })).status, 200, 'a report posted as a form is accepted')
  const forged = deliveryPath(dlrUrl, messageIds[0]!, 'delivered').replace(/sig=[\w-]+/, 'sig=forged')
  t.equal((await r.call('forged report', forged)).status, 403)
  t.equal((await r.call('unsigned report', `/dlr?smsid=${messageIds[0]!}&stan=delivered`)).status, 401)
  t.equal((await r.call('report without id', deliveryPath(dlrUrl, '', 'delivered'))).status, 400)

  // Operations.
  t.equal((await r.call('metrics without token', '/metrics')).status, 401)
  t.equal((await r.call('metrics with a wrong token', '/metrics', { headers: { authorization: `Bearer ${PRESENTED_WRONG_KEY}` } })).status, 401)
  t.equal((await r.call('metrics with an API key', '/metrics', { headers: { authorization: `Bearer ${TEST_API_KEY}` } })).status, 401)
  t.equal((await r.call('metrics', '/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status, 200)
  t.equal((await r.call('readyz', '/readyz')).status, 200)
  t.equal((await r.call('healthz', '/healthz')).status, 200)
  t.equal((await r.call('openapi', '/docs/json')).status, 200)
  t.equal((await r.call('docs', '/docs/')).status, 200)
  t.equal((await r.call('unknown route', '/nowhere?key=value')).status, 404)
}

interface Secret { name: string, value: string }

function secretsOf (r: Recorder, extra: Secret[]): Secret[] {
  const secrets: Secret[] = [
    { name: 'API key (billing)', value: TEST_API_KEY },
    { name: 'API key (shop)', value: OTHER_API_KEY },
    { name: 'presented wrong key', value: PRESENTED_WRONG_KEY },
    { name: 'DLR_SECRET', value: DLR_SECRET },
    { name: 'METRICS_TOKEN', value: METRICS_TOKEN },
    ...[...r.signatures].map((sig) => ({ name: 'dlr sig', value: sig })),
    ...extra
  ]
  // The forms a secret could be written in besides verbatim.
  return secrets.flatMap((s) => [s, { name: `${s.name} (base64)`, value: Buffer.from(s.value).toString('base64') }])
}

function assertNoSecrets (t: Test, r: Recorder, secrets: Secret[]): void {
  t.ok(r.gw.logs.lines.length > 0, `the flows were logged (${r.gw.logs.lines.length} lines)`)
  for (const { name, value } of secrets) {
    const inLogs = r.gw.logs.lines.filter((line) => line.includes(value))
    t.same(inLogs, [], `${name} is in no log line`)
    const inAnswers = r.seen.filter((s) => s.headers.includes(value) || s.body.includes(value)).map((s) => s.what)
    t.same(inAnswers, [], `${name} is in no answer`)
  }
}

function assertNoPhonesAtInfo (t: Test, r: Recorder): void {
  for (const phone of PHONES) {
    const hits = r.gw.logs.lines.filter((line) => line.replace(/\D/g, ' ').includes(phone) || line.includes(phone.slice(0, 3) + ' ' + phone.slice(3, 6)))
    t.same(hits, [], `the full number …${phone.slice(-3)} is in no log line`)
  }
}

const COMMON_ENV = { PUBLIC_URL, DLR_SECRET, METRICS_TOKEN, SERWERSMS_TIMEOUT_MS: '500', LOG_LEVEL: 'info' }

async function startRecorded (t: Test, options: StartOptions): Promise<Recorder> {
  return new Recorder(await startGateway(t, options))
}

t.test('token credentials: no secret in any log line or answer, no phone number in info logs', async (t) => {
  const r = await startRecorded(t, { env: { ...COMMON_ENV, SERWERSMS_TOKEN: TOKEN }, simulator: { credentials: { token: TOKEN } } })
  await runMainFlows(t, r)
  t.equal(r.gw.simulator.received[0]?.headers.authorization, `Bearer ${TOKEN}`, 'the token did reach the provider (sanity)')
  assertNoSecrets(t, r, secretsOf(r, [{ name: 'SERWERSMS_TOKEN', value: TOKEN }]))
  assertNoPhonesAtInfo(t, r)
})

t.test('API user credentials: no secret in any log line or answer, no phone number in info logs', async (t) => {
  const r = await startRecorded(t, {
    env: { ...COMMON_ENV, SERWERSMS_TOKEN: undefined, SERWERSMS_USERNAME: USERNAME, SERWERSMS_PASSWORD: PASSWORD },
    simulator: { credentials: { username: USERNAME, password: PASSWORD } }
  })
  await runMainFlows(t, r)
  t.match(r.gw.simulator.received[0]?.body, { username: USERNAME, password: PASSWORD }, 'the credentials did reach the provider (sanity)')
  assertNoSecrets(t, r, secretsOf(r, [{ name: 'SERWERSMS_USERNAME', value: USERNAME }, { name: 'SERWERSMS_PASSWORD', value: PASSWORD }]))
  assertNoPhonesAtInfo(t, r)
})

t.test('credentials the provider refuses (a real 1001): still no secret anywhere', async (t) => {
  const r = await startRecorded(t, { env: { ...COMMON_ENV, SERWERSMS_TOKEN: TOKEN }, simulator: { credentials: { token: 'the-token-the-provider-expects' } } })
  const refused = await r.sendSms('refused by the provider', { to: e164(PHONES[0]!), text: 'x' })
  t.equal(refused.status, 502)
  t.match(JSON.parse(refused.body), { code: 'GW_PROVIDER_AUTH_FAILED', providerError: { code: 1001 } })
  assertNoSecrets(t, r, secretsOf(r, [{ name: 'SERWERSMS_TOKEN', value: TOKEN }]))
})

t.test('at trace level too: secrets stay out of the logs', async (t) => {
  const r = await startRecorded(t, { env: { ...COMMON_ENV, SERWERSMS_TOKEN: TOKEN, LOG_LEVEL: 'trace' }, simulator: { credentials: { token: TOKEN } } })
  await runMainFlows(t, r)
  assertNoSecrets(t, r, secretsOf(r, [{ name: 'SERWERSMS_TOKEN', value: TOKEN }]))
})

// With SERWERSMS_SIMULATOR=true the simulator logs through the gateway's logger; a failed push
// must not write the whole dlr_url, `sig` included, even at debug level.
t.test('built-in simulator mode: a failed delivery-report push does not log the signature', async (t) => {
  const gw = await startGateway(t, {
    // Port 9 (discard) is closed here: every push fails.
    env: { SERWERSMS_SIMULATOR: 'true', PUBLIC_URL: 'http://127.0.0.1:9', DLR_SECRET, LOG_LEVEL: 'debug', SIMULATOR_DLR_DELAY_MS: '0' }
  })
  const r = new Recorder(gw)
  t.equal((await r.sendSms('send', { to: e164(PHONES[0]!), text: 'x' })).status, 200)
  const simulatorUrl = gw.logs.entries.find((e) => typeof e.simulatorUrl === 'string')?.simulatorUrl as string
  const received = await (await fetch(`${simulatorUrl}__simulator/received`)).json() as Array<{ body: { dlr_url?: string } }>
  const sig = new URL((received[0]?.body.dlr_url ?? '').replaceAll('#', ''), 'http://x').searchParams.get('sig')
  t.ok(sig !== null && sig !== '', 'the send carried a signed dlr_url')
  await waitFor('the push to fail and be logged', () => gw.logs.lines.some((line) => line.includes('delivery report push failed')))
  t.same(gw.logs.lines.filter((line) => line.includes(sig ?? '\u0000')).map((line) => line.slice(0, 300)), [], 'the signature is in no log line')
})
