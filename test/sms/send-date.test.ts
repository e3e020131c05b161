import t from 'tap'
import fc from 'fast-check'
import { formatProviderDate, parseProviderDate, PROVIDER_TIME_ZONE } from '../../src/sms/send-date.js'

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

t.test('parseProviderDate reads Warsaw wall time', async (t) => {
  t.same(parseProviderDate('2024-01-15 12:05:09'), at('2024-01-15T11:05:09Z'))
  t.same(parseProviderDate('2024-07-15 13:05:09'), at('2024-07-15T11:05:09Z'))
  t.same(parseProviderDate('2024-07-15T13:05:09'), at('2024-07-15T11:05:09Z'), 'T separator without offset')
  t.same(parseProviderDate('2024-02-29 00:00:00'), at('2024-02-28T23:00:00Z'), 'leap day')
  t.same(parseProviderDate('2024-01-15 12:05:09', 'UTC'), at('2024-01-15T12:05:09Z'))
  t.same(parseProviderDate('2024-01-15 06:05:09', 'America/New_York'), at('2024-01-15T11:05:09Z'))
  t.same(parseProviderDate('0050-06-01 00:00:00', 'UTC'), at('0050-06-01T00:00:00Z'), 'two-digit years stay ancient')
})

t.test('parseProviderDate across DST transitions', async (t) => {
  t.same(parseProviderDate('2024-03-31 01:59:59'), at('2024-03-31T00:59:59Z'))
  t.same(parseProviderDate('2024-03-31 03:00:00'), at('2024-03-31T01:00:00Z'))
  t.same(parseProviderDate('2024-03-31 02:30:00'), at('2024-03-31T01:30:00Z'),
    'a skipped wall time moves forward by the gap (03:30 CEST)')
  t.same(parseProviderDate('2024-10-27 02:30:00'), at('2024-10-27T00:30:00Z'),
    'a repeated wall time is the earlier instant')
  t.same(parseProviderDate('2024-10-27 03:00:00'), at('2024-10-27T02:00:00Z'))
  t.same(parseProviderDate('2024-10-27 01:59:59'), at('2024-10-26T23:59:59Z'))
  t.same(parseProviderDate('2024-11-03 01:30:00', 'America/New_York'), at('2024-11-03T05:30:00Z'),
    'the earlier instant west of Greenwich too')
  t.same(parseProviderDate('2024-03-10 02:30:00', 'America/New_York'), at('2024-03-10T07:30:00Z'),
    'a skipped wall time west of Greenwich')
  t.same(parseProviderDate('2024-04-07 01:45:00', 'Australia/Lord_Howe'), at('2024-04-06T14:45:00Z'),
    'half-hour DST: the earlier of the two 01:45s')
})

t.test('parseProviderDate accepts ISO 8601 with an offset', async (t) => {
  t.same(parseProviderDate('2024-07-15T11:05:09Z'), at('2024-07-15T11:05:09Z'))
  t.same(parseProviderDate('2024-07-15t11:05:09z'), at('2024-07-15T11:05:09Z'), 'lower case letters')
  t.same(parseProviderDate('2024-07-15T13:05:09+02:00'), at('2024-07-15T11:05:09Z'))
  t.same(parseProviderDate('2024-07-15T06:05:09-0500'), at('2024-07-15T11:05:09Z'), 'offset without colon')
  t.same(parseProviderDate('2024-07-15T11:05Z'), at('2024-07-15T11:05:00Z'), 'seconds are optional')
  t.same(parseProviderDate('2024-07-15T11:05:09.5Z'), at('2024-07-15T11:05:09.500Z'))
  t.same(parseProviderDate('2024-07-15T11:05:09,123456789Z'), at('2024-07-15T11:05:09.123Z'),
    'extra fraction digits are cut')
  t.same(parseProviderDate('2024-07-15T11:05:09+14:00', 'UTC'), at('2024-07-14T21:05:09Z'), 'the zone argument is ignored')
})

t.test('parseProviderDate returns undefined for anything else', async (t) => {
  for (const text of [
    '',
    'tomorrow',
    '2024-07-15',
    '2024-07-15 11:05',
    '2024-7-15 11:05:09',
    '15.07.2024 11:05:09',
    ' 2024-07-15 11:05:09',
    '2024-07-15 11:05:09 ',
    '2024-07-15 11:05:09.123',
    '2024-00-10 10:00:00',
    '2024-13-10 10:00:00',
    '2024-04-31 10:00:00',
    '2023-02-29 10:00:00',
    '2024-01-00 10:00:00',
    '2024-01-10 24:00:00',
    '2024-01-10 10:60:00',
    '2024-01-10 10:00:60',
    '2024-04-31T10:00:00Z',
    '2024-01-10T10:00:00+15:00',
    '2024-01-10T10:00:00+01:60',
    '2024-01-10T10:00:00+1',
    '2024-01-10 10:00:00Z'
  ]) {
    t.equal(parseProviderDate(text), undefined, JSON.stringify(text))
  }
})

t.test('parseProviderDate inverts formatProviderDate', async (t) => {
  const wholeSeconds = fc.integer({ min: Date.UTC(1990, 0, 1) / 1000, max: Date.UTC(2100, 0, 1) / 1000 })
  const zones = fc.constantFrom(PROVIDER_TIME_ZONE, 'UTC', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe')
  fc.assert(fc.property(wholeSeconds, zones, (seconds, zone) => {
    const instant = new Date(seconds * 1000)
    const text = formatProviderDate(instant, zone)
    const back = parseProviderDate(text, zone)
    // A wall time from the second pass through an autumn hour reads back as the first pass.
    return back !== undefined && formatProviderDate(back, zone) === text && back.getTime() <= instant.getTime()
  }), { numRuns: 2000 })
  t.pass('round trip holds')
})
