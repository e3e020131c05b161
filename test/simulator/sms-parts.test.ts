import fc from 'fast-check'
import t from 'tap'
import { countSmsParts } from '../../src/simulator/sms-parts.js'

t.test('GSM-7: 160 in one part, 153 per part beyond', async (t) => {
  t.equal(countSmsParts('a', false), 1)
  t.equal(countSmsParts('a'.repeat(160), false), 1)
  t.equal(countSmsParts('a'.repeat(161), false), 2)
  t.equal(countSmsParts('a'.repeat(306), false), 2)
  t.equal(countSmsParts('a'.repeat(307), false), 3)
  t.equal(countSmsParts('ąęł'.repeat(50), false), 1, 'characters GSM-7 lacks are replaced, one septet each')
  t.equal(countSmsParts('😀'.repeat(160), false), 1, 'a surrogate pair is one character')
})

t.test('GSM-7 extension characters cost two septets and are never split', async (t) => {
  t.equal(countSmsParts('€'.repeat(80), false), 1)
  t.equal(countSmsParts('€'.repeat(81), false), 2)
  t.equal(countSmsParts('a' + '[]'.repeat(80), false), 3)
  t.equal(countSmsParts('a'.repeat(152) + '{' + 'a'.repeat(152), false), 3, 'the escape does not straddle parts')
  t.equal(countSmsParts('a'.repeat(151) + '{' + 'a'.repeat(153), false), 2)
})

t.test('UCS-2: 70 in one part, 67 per part beyond', async (t) => {
  t.equal(countSmsParts('ą'.repeat(70), true), 1)
  t.equal(countSmsParts('ą'.repeat(71), true), 2)
  t.equal(countSmsParts('ą'.repeat(134), true), 2)
  t.equal(countSmsParts('ą'.repeat(135), true), 3)
  t.equal(countSmsParts('😀'.repeat(35), true), 1, 'a surrogate pair is two units')
  t.equal(countSmsParts('😀'.repeat(36), true), 2)
  t.equal(countSmsParts('a' + '😀'.repeat(34), true), 1)
  t.equal(countSmsParts('a'.repeat(66) + '😀' + 'a'.repeat(66), true), 3, 'a pair does not straddle parts')
  t.equal(countSmsParts('\ud83d', true), 1, 'a lone surrogate is one unit')
})

t.test('the part count matches ceil(length / per-part) for plain text', async (t) => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 2000 }), fc.boolean(), (length, ucs2) => {
    const [single, multi] = ucs2 ? [70, 67] : [160, 153]
    const expected = length <= single ? 1 : Math.ceil(length / multi)
    return countSmsParts('x'.repeat(length), ucs2) === expected
  }))
  t.pass('property held')
})
