import t from 'tap'
import { unreadableJsonBody } from '../../src/json-body.js'
import { authHeader, startGateway } from '../helper.js'

const CAFE_LATIN1 = Buffer.concat([Buffer.from('{"to":"+48500600700","text":"Caf'), Buffer.from([0xe9]), Buffer.from('","sender":"INFO"}')])

t.test('what makes a JSON body unreadable', async (t) => {
  const utf8 = Buffer.from('{"text":"Zażółć"}')
  t.equal(unreadableJsonBody('application/json', undefined, utf8), undefined)
  for (const type of ['application/json; charset=utf-8', 'application/json;charset="UTF-8"', 'application/json; CHARSET=utf8']) {
    t.equal(unreadableJsonBody(type, undefined, utf8), undefined, type)
  }
  t.match(unreadableJsonBody('application/json; charset=latin1', undefined, utf8), { code: 'GW_MEDIA_TYPE_UNSUPPORTED', message: /charset=latin1 is not supported/ })
  t.match(unreadableJsonBody('application/json; charset="utf-16"', undefined, utf8), { code: 'GW_MEDIA_TYPE_UNSUPPORTED', message: /charset=utf-16/ })
  t.match(unreadableJsonBody('application/json', 'gzip', utf8), { code: 'GW_MEDIA_TYPE_UNSUPPORTED', message: /Content-Encoding gzip/ })
  t.equal(unreadableJsonBody('application/json', 'identity', utf8), undefined)
  t.match(unreadableJsonBody('application/json', undefined, CAFE_LATIN1), { code: 'GW_BODY_MALFORMED', message: 'The body is not valid UTF-8.' })
  t.match(unreadableJsonBody('application/json', undefined, Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22])), { code: 'GW_BODY_MALFORMED' }, 'an encoded surrogate is not UTF-8')
})

t.test('a body the gateway cannot read as sent is refused, never sent altered', async (t) => {
  const gw = await startGateway(t)
  const send = async (body: Buffer | string, headers: Record<string, string>) => {
    const response = await fetch(`${gw.url}/sms`, { method: 'POST', headers: { ...authHeader(), ...headers }, body })
    return { status: response.status, type: response.headers.get('content-type'), body: await response.json() as { code: string, detail: string } }
  }
  t.match(await send(CAFE_LATIN1, { 'content-type': 'application/json' }), { status: 400, type: /^application\/problem\+json/, body: { code: 'GW_BODY_MALFORMED' } })
  t.match(await send(CAFE_LATIN1, { 'content-type': 'application/json; charset=latin1' }), { status: 415, body: { code: 'GW_MEDIA_TYPE_UNSUPPORTED' } })
  t.match(await send('{"to":"+48500600700","text":"x"}', { 'content-type': 'application/json', 'content-encoding': 'br' }), { status: 415, body: { code: 'GW_MEDIA_TYPE_UNSUPPORTED' } })
  t.match(await send('{"to":"+48500600700","text":"x","__proto__":{"a":1}}', { 'content-type': 'application/json' }), { status: 400, body: { code: 'GW_BODY_MALFORMED' } }, 'prototype poisoning is still refused')
  t.equal(gw.simulator.received.length, 0, 'nothing reached the provider')
  t.match(await send('{"to":"+48500600700","text":"Café ąę"}', { 'content-type': 'application/json; charset=UTF-8' }), { status: 200 })
  t.equal(gw.simulator.received[0]?.body.text, 'Café ąę', 'UTF-8 arrives as written')
})
