import t from 'tap'
import { findClient, isSameSecret, readBearer } from '../../src/plugins/auth.js'
import { startGateway } from '../helper.js'

const KEY = 'test-key-0123456789abcdef'

t.test('a secret matches only itself', async (t) => {
  t.ok(isSameSecret(KEY, KEY))
  t.ok(isSameSecret('', ''), 'two empty texts are the same text')
  for (let i = 0; i < KEY.length; i++) {
    const changed = KEY.slice(0, i) + (KEY[i] === 'x' ? 'y' : 'x') + KEY.slice(i + 1)
    t.notOk(isSameSecret(changed, KEY), `one character changed at ${i}`)
  }
  t.notOk(isSameSecret(KEY.slice(0, -1), KEY), 'a prefix')
  t.notOk(isSameSecret(KEY.slice(1), KEY), 'a suffix')
  t.notOk(isSameSecret(`${KEY}0`, KEY), 'longer')
  t.notOk(isSameSecret(KEY + KEY, KEY), 'the key twice: the presented text is read modulo its length')
  t.notOk(isSameSecret('', KEY), 'empty')
  t.notOk(isSameSecret(KEY, ''), 'against an empty stored secret')
  t.notOk(isSameSecret('ab', 'abab'), 'a repetition of the presented text')
  t.notOk(isSameSecret('kęy-ż', 'key-z'), 'characters beyond Latin-1')
  t.ok(isSameSecret('kęy-ż', 'kęy-ż'))
})

t.test('findClient names the client whose key matches, whichever position it has', async (t) => {
  const keys = [{ name: 'billing', key: KEY }, { name: 'shop', key: 'other-key-0123456789abcdef' }, { name: 'ops', key: 'short' }]
  t.equal(findClient(keys, KEY), 'billing')
  t.equal(findClient(keys, 'other-key-0123456789abcdef'), 'shop')
  t.equal(findClient(keys, 'short'), 'ops')
  t.equal(findClient(keys, 'shor'), undefined)
  t.equal(findClient(keys, 'unknown-key-0123456789abcd'), undefined)
  t.equal(findClient([], KEY), undefined)
})

t.test('readBearer', async (t) => {
  t.equal(readBearer(`Bearer ${KEY}`), KEY)
  t.equal(readBearer(`bearer \t${KEY} `), KEY, 'scheme in any case, spaces and tabs around')
  t.equal(readBearer(KEY), undefined)
  t.equal(readBearer('Bearer '), undefined)
  t.equal(readBearer('Bearer a b'), undefined)
  t.equal(readBearer(undefined), undefined)
})

t.test('AUTH_DISABLED with API_KEYS set warns that the keys are not checked', async (t) => {
  const gw = await startGateway(t, { env: { AUTH_DISABLED: 'true' } })
  const warning = gw.logs.entries.find((entry) => typeof entry.msg === 'string' && entry.msg.startsWith('AUTH_DISABLED=true'))
  t.equal(warning?.msg, 'AUTH_DISABLED=true: anyone who can reach the gateway can send SMS; the 2 API_KEYS set are not checked')
  const anyone = await fetch(`${gw.url}/sms`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ to: '+48500600700', text: 'x' }) })
  t.equal(anyone.status, 200, 'as it says: no key needed')
})

t.test('a client rotating its key has two for one name: one client, one budget, one idempotency scope, one series', async (t) => {
  const OLD = 'billing-old-0123456789abcdef'
  const NEW = 'billing-new-0123456789abcdef'
  const gw = await startGateway(t, { env: { API_KEYS: `billing:${OLD},billing:${NEW}`, RATE_LIMIT_MAX: '3' } })
  const send = async (key: string) => await fetch(`${gw.url}/sms`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'idempotency-key': 'order-1' },
    body: JSON.stringify({ to: '+48500600700', text: 'x' })
  })
  const first = await send(OLD)
  t.equal(first.status, 200)
  const retried = await send(NEW)
  t.equal(retried.status, 200)
  t.equal(retried.headers.get('idempotent-replayed'), 'true', 'a retry with the new key replays what the old one sent')
  t.equal(gw.simulator.stats.sendRequests, 1, 'sent once')
  t.equal(retried.headers.get('ratelimit-remaining'), '1', 'one budget: the new key\'s call counted after the old one\'s')
  const metrics = await (await fetch(`${gw.url}/metrics`)).text()
  t.equal(metrics.match(/^sms_gateway_messages_total\{status="queued",client="billing"\} /gm)?.length, 1, 'one series for the client')
  t.match(gw.logs.entries.filter((e) => e.msg === 'request completed' && e.route === '/sms'), [{ client: 'billing' }, { client: 'billing' }])
})
