import fc from 'fast-check'
import t from 'tap'
import { normalisePhone } from '../../src/simulator/phone.js'

t.test('corrects Polish numbers and keeps international ones', async (t) => {
  const cases: Array<[string, string | null]> = [
    ['+48500600700', '+48500600700'],
    ['500600700', '+48500600700'],
    ['500 600 700', '+48500600700'],
    ['500-600-700', '+48500600700'],
    ['48500600700', '+48500600700'],
    ['0048500600700', '+48500600700'],
    ['0048 500 600 700', '+48500600700'],
    ['+4915112345678', '+4915112345678'],
    ['+12025550123', '+12025550123'],
    // Niue's numbers are this short, and the gateway (libphonenumber) takes them.
    ['+6834002', '+6834002'],
    ['+123456', null],
    ['+1234567890123456', null],
    ['45616', null],
    ['7799123', null],
    ['4850060070', null],
    ['+4850060070', null],
    ['+485006007001', null],
    ['0049151123456', null],
    ['(500) 600 700', null],
    ['+48 500 600 70a', null],
    ['', null]
  ]
  for (const [raw, expected] of cases) t.equal(normalisePhone(raw), expected, JSON.stringify(raw))
})

t.test('any 9-digit number, however spaced, becomes +48 and is stable', async (t) => {
  fc.assert(fc.property(fc.stringMatching(/^\d{9}$/), fc.array(fc.constantFrom(' ', '-')), (digits, separators) => {
    const spaced = digits.split('').map((digit, index) => digit + (separators[index] ?? '')).join('')
    const normalised = normalisePhone(spaced)
    return normalised === `+48${digits}` && normalisePhone(normalised) === normalised
  }))
  t.pass('property held')
})
