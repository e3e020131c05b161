import t from 'tap'
import { nextMessageId } from '../../src/simulator/message-id.js'

t.test('10 lowercase hex digits, never repeating', async (t) => {
  const ids = Array.from({ length: 200_000 }, nextMessageId)
  t.ok(ids.every((id) => /^[0-9a-f]{10}$/.test(id)))
  t.equal(new Set(ids).size, ids.length)
  t.notOk(ids.slice(1).every((id, index) => parseInt(id, 16) > parseInt(ids[index] ?? '', 16)), 'not visibly sequential')
})
