import t from 'tap'
import { RecentEntries } from '../../src/simulator/recent-requests.js'

t.test('keeps the newest entries, oldest first', async (t) => {
  const recent = new RecentEntries<number>(3)
  t.same(recent.list(), [])
  recent.push(1)
  recent.push(2)
  t.same(recent.list(), [1, 2])
  for (const value of [3, 4, 5]) recent.push(value)
  t.same(recent.list(), [3, 4, 5])
  recent.push(6)
  t.same(recent.list(), [4, 5, 6])
  t.same(recent.list(2), [5, 6])
  t.same(recent.list(0), [])
  t.same(recent.list(10), [4, 5, 6])
  recent.clear()
  t.same(recent.list(), [])
  recent.push(7)
  t.same(recent.list(), [7])
})

t.test('capacity 0 keeps nothing', async (t) => {
  const recent = new RecentEntries<number>(0)
  recent.push(1)
  t.same(recent.list(), [])
})
