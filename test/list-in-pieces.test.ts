import { setImmediate as nextTurn } from 'node:timers/promises'
import Fastify from 'fastify'
import t from 'tap'
import { Type } from 'typebox'
import { ITEMS_PER_PIECE, listItemsInPieces, serializeListInPieces, withListItems } from '../src/list-in-pieces.js'

t.test('a long list is serialised whole, a piece at a time, giving the event loop a turn between pieces', async (t) => {
  const items = Array.from({ length: 2 * ITEMS_PER_PIECE + 7 }, (_, index) => ({ n: index, text: index % 3 === 0 ? 'zażółć "gęślą"' : 'x' }))
  let serialised = 0
  const seenByOtherWork: number[] = []
  // Other work, waiting for turns of the event loop while the list is serialised.
  const otherWork = (async () => {
    while (serialised < items.length) {
      await nextTurn()
      seenByOtherWork.push(serialised)
    }
  })()
  const json = await listItemsInPieces(items, (item) => {
    serialised++
    return JSON.stringify(item)
  })
  await otherWork
  t.equal(json, items.map((item) => JSON.stringify(item)).join(','))
  t.equal(`[${json}]`, JSON.stringify(items), 'a list once in brackets')
  t.ok(seenByOtherWork.includes(ITEMS_PER_PIECE), 'other work ran after the first piece')
  t.ok(seenByOtherWork.includes(2 * ITEMS_PER_PIECE), 'and after the second')
  t.notOk(seenByOtherWork.some((count) => count % ITEMS_PER_PIECE !== 0 && count < items.length), 'never within a piece')
  t.equal(await listItemsInPieces([], JSON.stringify), '')
  t.equal(await listItemsInPieces([1, 2, 3], JSON.stringify, 2), '1,2,3')
})

t.test('the items go into the one empty list under the key, at whatever depth', async (t) => {
  t.equal(withListItems('{"queued":2,"messages":[]}', 'messages', '{"a":1},{"b":2}'), '{"queued":2,"messages":[{"a":1},{"b":2}]}')
  t.equal(withListItems('{"messages":[],"detail":"x"}', 'messages', '1'), '{"messages":[1],"detail":"x"}')
  t.equal(withListItems('{"outer":{"messages":[]}}', 'messages', '1'), '{"outer":{"messages":[1]}}')
  t.equal(withListItems('{"detail":"\\"messages\\":[] is quoted","messages":[]}', 'messages', '1'), '{"detail":"\\"messages\\":[] is quoted","messages":[1]}', 'not a key\'s spelling within a string')
  t.equal(withListItems('{"messages":[0]}', 'messages', '1'), undefined, 'a list not empty')
  t.equal(withListItems('{"other":[]}', 'messages', '1'), undefined, 'no such key')
  t.equal(withListItems('{"messages":[],"more":{"messages":[]}}', 'messages', '1'), undefined, 'two: which one is not known')
  t.equal(withListItems('{"a\\"messages":[],"messages":[]}', 'messages', '1'), undefined, 'nor with a longer key that ends so')
})

t.test('a reply with a long list in pieces is the same bytes fastify writes whole, for each status and type', async (t) => {
  const Item = Type.Object({ n: Type.Integer(), text: Type.String(), extra: Type.Optional(Type.Boolean()) })
  const schema = {
    response: {
      200: { content: { 'application/json': { schema: Type.Object({ count: Type.Integer(), items: Type.Array(Item), note: Type.String() }) } } },
      422: { content: { 'application/problem+json': { schema: Type.Object({ type: Type.String(), status: Type.Integer(), items: Type.Optional(Type.Array(Item)) }, { additionalProperties: true }) } } },
      503: Type.Object({ type: Type.String(), items: Type.Array(Item) }),
      500: { content: { 'application/problem+json': { schema: Type.Object({ type: Type.String(), status: Type.Integer() }) } } }
    }
  }
  // The item schema writes `n` first and leaves out what it does not know: JSON.stringify would not.
  const items = Array.from({ length: 2 * ITEMS_PER_PIECE + 1 }, (_, index) => ({ text: index % 7 === 0 ? 'zażółć "gęślą"\n' : `t${index}`, n: index, unknown: 'dropped' }))
  const app = Fastify({ logger: false })
  let turnsWhileInPieces = 0
  for (const inPieces of [false, true]) {
    app.get(`/${inPieces ? 'pieces' : 'whole'}/:status`, { schema }, async (request, reply) => {
      const { status } = request.params as { status: string }
      if (inPieces) {
        const state = { done: false }
        const otherWork = (async () => {
          while (!state.done) {
            await nextTurn()
            turnsWhileInPieces++
          }
        })()
        await serializeListInPieces(reply, 'items', items, Item)
        state.done = true
        await otherWork
      }
      if (status === '200') return { note: 'after the list', items, count: items.length }
      if (status === '422') return reply.code(422).type('application/problem+json; charset=utf-8').send({ status: 422, items, type: 'about:blank', detail: 'kept: additional' })
      if (status === '200-text') return reply.type('application/json; charset=utf-8').send('{"already":"serialised"}')
      if (status === '422-other-list') return reply.code(422).type('application/problem+json; charset=utf-8').send({ status: 422, items: items.slice(0, 3), type: 'about:blank' })
      if (status === '503') return reply.code(503).send({ type: 'about:blank', items })
      if (status === '500') return reply.code(500).type('application/problem+json; charset=utf-8').send({ type: 'about:blank', status: 500 })
      // A status without a schema (the reply's types know only the documented ones).
      return reply.code(418 as 200).send({ items, undocumented: true } as never)
    })
  }
  t.teardown(() => app.close())
  for (const status of ['200', '200-text', '422', '422-other-list', '503', '500', '418']) {
    const whole = await app.inject(`/whole/${status}`)
    const pieces = await app.inject(`/pieces/${status}`)
    t.equal(pieces.statusCode, whole.statusCode, status)
    t.equal(pieces.headers['content-type'], whole.headers['content-type'], `${status}: its type`)
    t.equal(pieces.body, whole.body, `${status}: the same bytes`)
  }
  t.match(JSON.parse((await app.inject('/pieces/200')).body), { count: items.length, items: [{ n: 0, text: 'zażółć "gęślą"\n' }], note: 'after the list' })
  t.notMatch((await app.inject('/pieces/200')).body, /unknown/, 'the item schema applied')
  t.equal(JSON.parse((await app.inject('/pieces/418')).body).items.length, items.length, 'a status without a schema keeps the list')
  t.equal(JSON.parse((await app.inject('/pieces/422-other-list')).body).items.length, 3, 'another list is not taken for this one')
  t.equal(JSON.parse((await app.inject('/pieces/503')).body).items.length, items.length, 'a status documented without types')
  t.ok(turnsWhileInPieces >= 2 * 12, 'other work had a turn between pieces, in each of the twelve calls in pieces')
})
