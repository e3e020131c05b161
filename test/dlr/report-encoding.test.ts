import t from 'tap'
import { mayHoldUndecodedEscapes, parseReportForm, parseReportQuery, reportCharsetOf } from '../../src/dlr/report-encoding.js'

/** Form text as the route holds a body: one character per byte. */
const bytes = (...parts: Array<string | number>) => parts.map((part) => typeof part === 'number' ? String.fromCharCode(part) : part).join('')

t.test('the charsets a form may declare, under any of their labels', async (t) => {
  for (const label of [undefined, 'utf-8', 'UTF8', 'us-ascii', 'ASCII']) t.equal(reportCharsetOf(label), 'utf-8', String(label))
  for (const label of ['iso-8859-2', 'ISO_8859-2', 'latin2', 'l2', 'csisolatin2']) t.equal(reportCharsetOf(label), 'iso-8859-2', label)
  for (const label of ['windows-1250', 'iso-8859-1', 'utf-16le', 'x-unknown', '']) t.equal(reportCharsetOf(label), undefined, label)
})

t.test('UTF-8 text stays as it was read; a value that is not UTF-8 is Latin-2', async (t) => {
  t.same({ ...parseReportForm('smsid=a1&stan=dor%C4%99czona&data=2026-11-25+12%3A00%3A00', 'utf-8') }, { smsid: 'a1', stan: 'doręczona', data: '2026-11-25 12:00:00' })
  t.same({ ...parseReportForm(bytes('stan=dor', 0xc4, 0x99, 'czona'), 'utf-8') }, { stan: 'doręczona' }, 'raw UTF-8 bytes')
  t.same({ ...parseReportForm('stan=dor%EAczona+x', 'utf-8') }, { stan: 'doręczona x' }, 'a Latin-2 escape')
  t.same({ ...parseReportForm(bytes('stan=z', 0xb3, 'y'), 'utf-8') }, { stan: 'zły' }, 'a raw Latin-2 byte')
  t.same({ ...parseReportForm('a=100%25&b=%25EA&c=%ZZ%&d', 'utf-8') }, { a: '100%', b: '%EA', c: '%ZZ%', d: '' }, 'an escaped %, a stray one, a key alone')
  t.same({ ...parseReportForm('id=a&id=b', 'utf-8') }, { id: ['a', 'b'] }, 'a repeated key')
  const polluting = parseReportForm('__proto__=x&constructor=y', 'utf-8') as Record<string, unknown>
  t.ok(Object.hasOwn(polluting, '__proto__') && Object.hasOwn(polluting, 'constructor'), 'such keys are the form\'s own fields')
  t.equal((polluting as { toString?: unknown }).toString, undefined, 'no Object.prototype behind it to reach')
  t.equal(({} as Record<string, unknown>).x, undefined)
})

t.test('a form declared Latin-2 is Latin-2 throughout, escapes included', async (t) => {
  t.same({ ...parseReportForm(bytes('stan=dor', 0xea, 'czony&przyczyna=b%B3%B1d'), 'iso-8859-2') }, { stan: 'doręczony', przyczyna: 'błąd' })
  t.same({ ...parseReportForm('stan=%C4%99', 'iso-8859-2') }, { stan: 'Ä\u0099' }, 'bytes that would be UTF-8 are still Latin-2')
})

t.test('the query of a request URL', async (t) => {
  t.same({ ...parseReportQuery('/dlr?t=1&sig=abc-_&stan=dor%EAczona') }, { t: '1', sig: 'abc-_', stan: 'doręczona' })
  t.same({ ...parseReportQuery('/dlr') }, {})
})

t.test('a field that kept a % may hold escapes fastify left undecoded', async (t) => {
  t.notOk(mayHoldUndecodedEscapes({ messageId: 'a1', state: 'delivered', date: '2026-11-25 12:00:00', reason: 'none' }))
  t.notOk(mayHoldUndecodedEscapes({ messageId: 'a1', state: 'delivered' }))
  t.ok(mayHoldUndecodedEscapes({ messageId: 'a1', state: 'dor%EAczona' }))
  t.ok(mayHoldUndecodedEscapes({ messageId: 'a%B31', state: 'delivered' }))
  t.ok(mayHoldUndecodedEscapes({ messageId: 'a1', state: 'delivered', date: '%' }))
  t.ok(mayHoldUndecodedEscapes({ messageId: 'a1', state: 'delivered', reason: 'b%B3%B1d' }))
})

t.test('an ASCII form takes the quick parser, and reads as the thorough one does', async (t) => {
  const forms = [
    'smsid=1c142d81c7&stan=delivered&data=2026-11-25+12%3A00%3A05&przyczyna=',
    't=abc&e=def&sig=AbC-_0123456789abcdefghijklmnopqrstuvwxyzABCDE&smsid=a&smsid=b',
    'stan=dor%C4%99czona&x=%25literal',
    'stan=dor%EAczona'
  ]
  const { parse } = await import('node:querystring')
  for (const form of forms) {
    const thorough = parse(form, '&', '=', { maxKeys: 0, decodeURIComponent: (piece: string) => { try { return decodeURIComponent(piece) } catch { return new TextDecoder('iso-8859-2').decode(Buffer.from(piece.replace(/%([\da-f]{2})/gi, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))), 'latin1')) } } })
    t.same({ ...parseReportForm(form, 'utf-8') }, { ...thorough }, form)
  }
  t.equal((parseReportForm('__proto__=x&a=1', 'utf-8') as { toString?: unknown }).toString, undefined, 'no Object.prototype behind it to pollute')
})
