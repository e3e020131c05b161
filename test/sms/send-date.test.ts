import t from 'tap'
import fc from 'fast-check'
import { formatProviderDate, instantOfProviderDate, PROVIDER_TIME_ZONE, unsayableInProviderTime } from '../../src/sms/send-date.js'

const at = (iso: string): Date => new Date(iso)

t.test('the provider zone is Warsaw', async (t) => {
  t.equal(PROVIDER_TIME_ZONE, 'Europe/Warsaw')
})

t.test('formatProviderDate', async (t) => {
  t.equal(formatProviderDate(at('2024-01-15T11:05:09Z')), '2024-01-15 12:05:09', 'winter is UTC+1')
  t.equal(formatProviderDate(at('2024-07-15T11:05:09Z')), '2024-07-15 13:05:09', 'summer is UTC+2')
  t.equal(formatProviderDate(at('2024-12-31T23:30:00Z')), '2025-01-01 00:30:00', 'midnight is 00, not 24')
  t.equal(formatProviderDate(at('2024-03-31T00:59:59Z')), '2024-03-31 01:59:59', 'last second before spring forward')
  t.equal(formatProviderDate(at('2024-03-31T01:00:00Z')), '2024-03-31 03:00:00', 'first second after spring forward')
  t.equal(formatProviderDate(at('2024-10-27T00:30:00Z')), '2024-10-27 02:30:00', 'first 02:30 in autumn')
  t.equal(formatProviderDate(at('2024-10-27T01:30:00Z')), '2024-10-27 02:30:00', 'second 02:30 in autumn')
  t.equal(formatProviderDate(at('2024-01-15T11:05:09Z'), 'UTC'), '2024-01-15 11:05:09')
  t.equal(formatProviderDate(at('2024-01-15T11:05:09Z'), 'America/New_York'), '2024-01-15 06:05:09')
  t.equal(formatProviderDate(at('0999-01-01T00:00:00Z'), 'UTC'), '0999-01-01 00:00:00', 'years are four digits')
  t.equal(formatProviderDate(at('2024-01-15T11:05:09.999Z'), 'UTC'), '2024-01-15 11:05:09', 'milliseconds are cut')
  t.throws(() => formatProviderDate(new Date(Number.NaN)), RangeError)
  t.throws(() => formatProviderDate(new Date(), 'Mars/Olympus'), RangeError)
})

t.test('the cached second gives the same answers', async (t) => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.integer({ min: 0, max: 999 }), (ms, extra) => {
    const base = Math.floor(ms / 1000) * 1000
    const expected = formatProviderDate(new Date(base), 'UTC')
    return formatProviderDate(new Date(base + extra), 'UTC') === expected && formatProviderDate(new Date(base + extra)) !== undefined
  }), { numRuns: 500 })
  t.equal(formatProviderDate(at('2024-01-15T11:05:09.100Z')), '2024-01-15 12:05:09')
  t.equal(formatProviderDate(at('2024-01-15T11:05:09.900Z'), 'UTC'), '2024-01-15 11:05:09', 'same second, another zone')
})

t.test('instants the provider\'s local time cannot say', async (t) => {
  const repeated = (iso: string) => unsayableInProviderTime(new Date(iso))?.startsWith('falls in the hour Polish clocks repeat') === true
  // 2030-10-27: 03:00 CEST goes back to 02:00 CET, so 02:00-02:59 comes twice (00:00Z-00:59Z and 01:00Z-01:59Z).
  t.ok(repeated('2030-10-27T00:00:00Z'), 'the first 02:00')
  t.ok(repeated('2030-10-27T01:59:59Z'), 'the second 02:59:59')
  t.notOk(repeated('2030-10-26T23:59:59Z'), '01:59:59 comes once')
  t.notOk(repeated('2030-10-27T02:00:00Z'), '03:00 comes once')
  t.equal(unsayableInProviderTime(new Date('2030-03-31T01:30:00Z')), undefined, 'spring forward skips an hour: every instant still has its own wall time')
  t.equal(unsayableInProviderTime(new Date('2030-07-01T12:00:00Z')), undefined)
  t.match(unsayableInProviderTime(new Date('9999-12-31T23:00:00Z')), /beyond the year 9999/, 'already 10000 in Warsaw')
  t.equal(unsayableInProviderTime(new Date('9999-12-31T22:59:59Z')), undefined)
})

t.test('instantOfProviderDate reads a provider date in its zone', async (t) => {
  t.equal(instantOfProviderDate('2025-01-15 12:00:00', 'Europe/Warsaw'), Date.UTC(2025, 0, 15, 11, 0, 0), 'winter: UTC+1')
  t.equal(instantOfProviderDate('2025-07-15 12:00:00', 'Europe/Warsaw'), Date.UTC(2025, 6, 15, 10, 0, 0), 'summer: UTC+2')
  t.equal(instantOfProviderDate('2025-03-30 03:30:00', 'Europe/Warsaw'), Date.UTC(2025, 2, 30, 1, 30, 0), 'just after the clocks go forward')
  t.equal(instantOfProviderDate('2025-03-30 01:30:00', 'Europe/Warsaw'), Date.UTC(2025, 2, 30, 0, 30, 0), 'just before')
  t.equal(instantOfProviderDate('2024-02-29 23:59:59', 'UTC'), Date.UTC(2024, 1, 29, 23, 59, 59))
  t.equal(instantOfProviderDate('2025-01-01 00:00:00', 'Asia/Tokyo'), Date.UTC(2024, 11, 31, 15, 0, 0))
  for (const instant of [Date.UTC(2025, 9, 26, 3, 0, 0), Date.UTC(2025, 5, 1, 8, 15, 42)]) {
    t.equal(instantOfProviderDate(formatProviderDate(new Date(instant)), 'Europe/Warsaw'), instant, 'the inverse of formatProviderDate')
  }
  t.ok(Number.isNaN(instantOfProviderDate('tomorrow', 'UTC')))
})
