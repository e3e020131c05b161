import t from 'tap'
import { formatWarsawTime } from '../../src/simulator/warsaw-time.js'

t.test('Warsaw wall clock, summer and winter', async (t) => {
  t.equal(formatWarsawTime(Date.UTC(2025, 0, 15, 10, 5, 9)), '2025-01-15 11:05:09', 'CET is UTC+1')
  t.equal(formatWarsawTime(Date.UTC(2025, 6, 15, 10, 5, 9, 999)), '2025-07-15 12:05:09', 'CEST is UTC+2')
  t.equal(formatWarsawTime(Date.UTC(2025, 11, 31, 23, 0, 0)), '2026-01-01 00:00:00', 'midnight is 00, not 24')
  t.equal(formatWarsawTime(Date.UTC(2025, 11, 31, 23, 0, 0, 500)), '2026-01-01 00:00:00', 'cached within a second')
})
