import t from 'tap'
import { countSmsParts, isGsm7 } from '../../src/sms/gsm7.js'

const EMOJI = '😀'

t.test('isGsm7', async (t) => {
  t.ok(isGsm7(''), 'empty text is trivially GSM-7')
  t.ok(isGsm7('Hello @ £5, ΔΦ ÄÖÑÜ§¿ äöñüà\r\n'), 'basic alphabet')
  t.ok(isGsm7('^{}\\[~]|€\f'), 'extension table')
  t.notOk(isGsm7('Zażółć gęślą jaźń'), 'Polish diacritics are not GSM-7')
  t.notOk(isGsm7('ç'), 'only capital Ç is in the alphabet')
  t.notOk(isGsm7(`hi ${EMOJI}`), 'astral characters are not GSM-7')
  t.notOk(isGsm7('\u001b'), 'the escape code itself is not a character')
  t.notOk(isGsm7('`'), 'backtick is not in the alphabet')
})

t.test('countSmsParts in GSM-7', async (t) => {
  t.equal(countSmsParts('', 'gsm7'), 0)
  t.equal(countSmsParts('a', 'gsm7'), 1)
  t.equal(countSmsParts('a'.repeat(160), 'gsm7'), 1)
  t.equal(countSmsParts('a'.repeat(161), 'gsm7'), 2)
  t.equal(countSmsParts('a'.repeat(306), 'gsm7'), 2)
  t.equal(countSmsParts('a'.repeat(307), 'gsm7'), 3)
  t.equal(countSmsParts('€'.repeat(80), 'gsm7'), 1, 'extension characters cost two septets')
  t.equal(countSmsParts('€'.repeat(81), 'gsm7'), 2)
  t.equal(countSmsParts('a'.repeat(152) + '€' + 'a'.repeat(152), 'gsm7'), 3,
    'an escape pair does not straddle two parts')
  t.equal(countSmsParts('a'.repeat(151) + '€' + 'a'.repeat(153), 'gsm7'), 2)
  t.equal(countSmsParts('ą'.repeat(160), 'gsm7'), 1, 'non-GSM characters count as transliterated')
  t.equal(countSmsParts(EMOJI.repeat(160), 'gsm7'), 1, 'a surrogate pair is one character')
  t.equal(countSmsParts('\ud83d'.repeat(161), 'gsm7'), 2, 'a lone surrogate counts as one character')
})

t.test('countSmsParts in UCS-2', async (t) => {
  t.equal(countSmsParts('', 'ucs2'), 0)
  t.equal(countSmsParts('ż'.repeat(70), 'ucs2'), 1)
  t.equal(countSmsParts('ż'.repeat(71), 'ucs2'), 2)
  t.equal(countSmsParts('ż'.repeat(134), 'ucs2'), 2)
  t.equal(countSmsParts('ż'.repeat(135), 'ucs2'), 3)
  t.equal(countSmsParts(EMOJI.repeat(35), 'ucs2'), 1, 'a surrogate pair costs two code units')
  t.equal(countSmsParts(EMOJI.repeat(36), 'ucs2'), 2)
  t.equal(countSmsParts('ż'.repeat(65) + EMOJI + 'ż'.repeat(10), 'ucs2'), 2,
    'a surrogate pair that fits stays in the part')
  t.equal(countSmsParts('ż'.repeat(66) + EMOJI + 'ż'.repeat(66), 'ucs2'), 3,
    'a surrogate pair is never split across parts')
  t.equal(countSmsParts('\udc00'.repeat(71), 'ucs2'), 2, 'a lone low surrogate is one code unit')
  t.equal(countSmsParts('\ud83dx'.repeat(36), 'ucs2'), 2, 'a high surrogate without its pair is one code unit')
})
