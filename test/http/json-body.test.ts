import t from 'tap'
import { explainJsonRefusal, unreadableJsonBody } from '../../src/json-body.js'
import { authHeader, startGateway } from '../helper.js'

const CAFE_LATIN1 = Buffer.concat([Buffer.from('{"to":"+48500600700","text":"Caf'), Buffer.from([0xe9]), Buffer.from('","sender":"INFO"}')])

t.test('what makes a JSON body unreadable', async (t) => {
  const utf8 = Buffer.from('{"text":"Zażółć"}')
  t.equal(unreadableJsonBody('application/json', undefined, utf8), undefined)
  for (const type of ['application/json; charset=utf-8', 'application/json;charset="UTF-8"', 'application/json; CHARSET=utf8']) {
    t.equal(unreadableJsonBody(type, undefined, utf8), undefined, type)
  }
  t.match(unreadableJsonBody('application/json; charset=latin1', undefined, utf8), { code: 'GW_MEDIA_TYPE_UNSUPPORTED', message: /charset=latin1 is not supported/ })
  t.match(unreadableJsonBody(`application/json; charset=${'k'.repeat(15_000)}`, undefined, utf8), { message: /^Send the body as application\/json in UTF-8; charset=k{100}… is not supported\.$/ }, 'a long charset is quoted cut')
  t.match(unreadableJsonBody('application/json', 'x'.repeat(15_000), utf8), { message: /^Send the body uncompressed; Content-Encoding x{100}… is not supported\.$/ }, 'a long coding too')
  t.match(unreadableJsonBody('application/json', undefined, utf8, 'gzip, chunked'), { code: 'GW_MEDIA_TYPE_UNSUPPORTED', message: 'Send the body uncompressed; Transfer-Encoding gzip, chunked is not supported.' }, 'a transfer coding Node does not decode is refused as a content coding is')
  for (const chunked of ['chunked', ' Chunked ', 'identity, chunked']) t.equal(unreadableJsonBody('application/json', undefined, utf8, chunked), undefined, `Transfer-Encoding: ${chunked} is read`)
  t.match(unreadableJsonBody('application/json; charset="utf-16"', undefined, utf8), { code: 'GW_MEDIA_TYPE_UNSUPPORTED', message: /charset=utf-16/ })
  t.match(unreadableJsonBody('application/json', 'gzip', utf8), { code: 'GW_MEDIA_TYPE_UNSUPPORTED', message: /Content-Encoding gzip/ })
  t.equal(unreadableJsonBody('application/json', 'identity', utf8), undefined)
  t.equal(unreadableJsonBody('application/json', '', utf8), undefined, 'an empty Content-Encoding lists no coding')
  t.match(unreadableJsonBody('application/json', undefined, CAFE_LATIN1), { code: 'GW_BODY_MALFORMED', message: 'The body is not valid UTF-8.' })
  t.match(unreadableJsonBody('application/json', undefined, Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22])), { code: 'GW_BODY_MALFORMED' }, 'an encoded surrogate is not UTF-8')
})

t.test('a refused body is explained: where its JSON breaks, without quoting it, or which key would reach a prototype', async (t) => {
  t.same([explainJsonRefusal('{"a":1').code, explainJsonRefusal('{"a":1').message], ['GW_BODY_MALFORMED', 'The body is not valid JSON: Expected \',\' or \'}\' after property value in JSON at position 6.'])
  t.equal(explainJsonRefusal('[1,]').message, 'The body is not valid JSON: Unexpected token \']\'.', 'V8\'s excerpt of the body left out')
  const pointed = (text: string) => explainJsonRefusal(text).extensions.errors
  t.same(pointed('{"a":{"b":[{"__proto__":1}]}}'), [{ field: '/a/b/0/__proto__', reason: 'is not allowed: it would reach an object\'s prototype' }])
  t.same(pointed('{"a/b~":{"constructor":{"prototype":{}}}}'), [{ field: '/a~1b~0/constructor/prototype', reason: 'is not allowed: it would reach an object\'s prototype' }])
  t.same(pointed(`[${'['.repeat(100)}1${']'.repeat(100)},{"__proto__":2}]`), [{ field: '/1/__proto__', reason: 'is not allowed: it would reach an object\'s prototype' }], 'found beside a deep branch')
  const deep = pointed(`${'['.repeat(300_000)}{"__proto__":1}${']'.repeat(300_000)}`)
  t.same(deep, [{ field: '', reason: 'has a key, nested deep, that would reach an object\'s prototype (__proto__, or constructor.prototype)' }], 'too deep to point at: the body, and no stack overflow')
  t.same(pointed('{"constructor":{"a":1}}'), undefined, 'a constructor key without prototype is no poisoning')
  t.same(pointed(`{"${'k'.repeat(30_000)}":{"__proto__":1}}`), [{ field: `/${'k'.repeat(64)}…/__proto__`, reason: 'is not allowed: it would reach an object\'s prototype' }], 'a long key cut short in the pointer')
  for (const text of ['{"a":"+48500600700" "b":1}', '{"text":"secret 482913",,}', '["+48500600700"x]']) {
    t.notMatch(explainJsonRefusal(text).message, /\d{4}/, `nothing of ${text} quoted`)
  }
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
  t.match(await send('{"to":"+48500600700","text":"x","__proto__":{"a":1}}', { 'content-type': 'application/json' }), { status: 400, body: { code: 'GW_VALIDATION_FAILED', detail: '/__proto__: is not allowed: it would reach an object\'s prototype', errors: [{ field: '/__proto__' }] } }, 'prototype poisoning is still refused, and named')
  t.match(await send('{"to":"+48500600700","text":"x"}x', { 'content-type': 'application/json' }), { status: 400, body: { code: 'GW_BODY_MALFORMED', detail: 'The body is not valid JSON: Unexpected non-whitespace character after JSON at position 32.' } }, 'where the JSON breaks')
  // V8 quotes up to ten characters each side of where it stopped; none of them is passed on.
  const quoting = await send('{"text":"Your code is 482913","to":["+48500600700","+48500600701",]}', { 'content-type': 'application/json' })
  t.match(quoting, { status: 400, body: { code: 'GW_BODY_MALFORMED', detail: 'The body is not valid JSON: Unexpected token \']\'.' } })
  const logged = gw.logs.entries.filter((entry) => entry.route === '/sms' && entry.code === 'GW_BODY_MALFORMED')
  t.ok(logged.length > 0 && logged.every((entry) => !/482913|600700|600701/.test(JSON.stringify(entry))), 'nothing of the body in its log line either')
  t.match(await send('{}', { 'content-type': 'text/plain' }), { status: 415, body: { detail: 'Send the body as application/json, or as a form to /dlr; Content-Type "text/plain" is not accepted.' } })
  t.match(await send('{}', { 'content-type': `application/x-${'y'.repeat(200)}` }), { status: 415, body: { detail: /Content-Type "application\/x-y{86}…" is not accepted/ } }, 'a long header quoted in part')
  t.equal(gw.simulator.received.length, 0, 'nothing reached the provider')
  t.match(await send('{"to":"+48500600700","text":"Café ąę"}', { 'content-type': 'application/json; charset=UTF-8' }), { status: 200 })
  t.equal(gw.simulator.received[0]?.body.text, 'Café ąę', 'UTF-8 arrives as written')
})
