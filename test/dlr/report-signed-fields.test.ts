import fc from 'fast-check'
import { parse as fastParse } from 'fast-querystring'
import t from 'tap'
import {
  hasMoreFieldsThan, hasTooManyFields, MAX_REPORT_FIELDS, parseBoundedQuery, parseReportForm, readSignedFields, type ReportCharset
} from '../../src/dlr/report-encoding.js'

/** The signature's fields of a parsed form, as the verifier reads them. */
function signedOf (form: Record<string, unknown>): Record<string, unknown> {
  const picked: Record<string, unknown> = {}
  for (const name of ['t', 'e', 'sig']) if (Object.hasOwn(form, name)) picked[name] = form[name]
  return picked
}

t.test('a text has more fields than a bound when it has more pieces between its ampersands', async (t) => {
  t.notOk(hasMoreFieldsThan('', 1))
  t.notOk(hasMoreFieldsThan('a=1', 1))
  t.ok(hasMoreFieldsThan('a=1&', 1), 'an empty piece is one too')
  const fields = (n: number) => Array.from({ length: n }, (_, i) => `f${i}=x`).join('&')
  t.notOk(hasMoreFieldsThan(fields(MAX_REPORT_FIELDS), MAX_REPORT_FIELDS))
  t.ok(hasMoreFieldsThan(fields(MAX_REPORT_FIELDS + 1), MAX_REPORT_FIELDS))
  t.ok(hasMoreFieldsThan('&'.repeat(16_000), MAX_REPORT_FIELDS))
})

t.test('the signature\'s fields read apart are those the whole form gives, in either charset', async (t) => {
  const examples = [
    't=mwywg1w3&e=mwywhc6r&sig=6UfDcaE_AowEJFAvj2jKvtU36Xccp1_zbBQoTSCqLH0&smsid=a&stan=dor%EAczona',
    'smsid=a&%73ig=abc&%74=1&e',
    'sig=a+b&sig=c%2Dd&sig=%EA&t=%C4%99',
    `sig=${'A'.repeat(500)}&t=${'1'.repeat(300)}&e=`,
    'signature=1&tt=2&ee=3&sig%3D=4&=&&t=',
    `x=${'%EA'.repeat(3000)}&sig=last`
  ]
  for (const charset of ['utf-8', 'iso-8859-2'] as ReportCharset[]) {
    for (const text of examples) t.same({ ...readSignedFields(text, charset) }, signedOf(parseReportForm(text, charset)), `${charset}: ${text.slice(0, 60)}`)
  }
  const unit = fc.constantFrom('t', 'e', 's', 'i', 'g', '=', '&', '+', '%', '%73', '%74', '%65', '%3D', '%26', '%EA', '%C4%99', 'A', '-', '_', '1', '\xea')
  fc.assert(fc.property(fc.string({ unit, maxLength: 60 }), fc.constantFrom<ReportCharset>('utf-8', 'iso-8859-2'), (text, charset) => {
    t.same({ ...readSignedFields(text, charset) }, signedOf(parseReportForm(text, charset)))
  }), { numRuns: 2000 })
})

t.test('a signed field too long to be one of the gateway\'s is not decoded, and is read as empty', async (t) => {
  const escaped = '%41'.repeat(50)
  t.same({ ...readSignedFields(`sig=${escaped}&t=${escaped}&e=%31`, 'utf-8') }, { sig: '', t: '', e: '1' })
  t.same({ ...readSignedFields(`sig=${'+'.repeat(200)}`, 'utf-8') }, { sig: '' }, 'a + is a space, decoded too')
  t.same({ ...readSignedFields(`sig=${'%41'.repeat(43)}`, 'utf-8') }, { sig: 'A'.repeat(43) }, 'a signature of the gateway\'s, every character escaped, still is')
})

t.test('a query of at most MAX_REPORT_FIELDS fields is parsed as fastify parses it; of more, only its signature is read', async (t) => {
  const fields = (n: number) => Array.from({ length: n - 3 }, (_, i) => `f${i}=x%C4%99`).concat(['t=1', 'e=2', 'sig=s']).join('&')
  for (const text of ['', 'a=1&a=2&b=%EA&c', fields(MAX_REPORT_FIELDS)]) {
    const query = parseBoundedQuery(text)
    t.same({ ...query }, { ...fastParse(text) }, text.slice(0, 40))
    t.notOk(hasTooManyFields(query))
  }
  const over = parseBoundedQuery(fields(MAX_REPORT_FIELDS + 1))
  t.same({ ...over }, { t: '1', e: '2', sig: 's' }, 'the rest is never decoded')
  t.ok(hasTooManyFields(over))
  const many = parseBoundedQuery(Array.from({ length: 2600 }, (_, i) => `k${i.toString(36)}=x`).join('&'))
  t.same({ ...many }, {})
  t.ok(hasTooManyFields(many))
  t.notOk(hasTooManyFields({ sig: 's' }))
  t.notOk(hasTooManyFields(undefined))
})
