import t from 'tap'
import { isSupportedRegion, maskPhone, normalisePhone } from '../../src/sms/phone.js'

const E164 = '+48500600700'

t.test('normalisePhone accepts the ways people write a Polish mobile', async (t) => {
  for (const input of [
    '+48 500 600 700',
    '500600700',
    '0048500600700',
    '48500600700',
    '48 500-600-700',
    '(500) 600-700',
    '500.600.700',
    ' 500600700\n',
    '+48\u00a0500\u00a0600\u00a0700'
  ]) {
    t.same(normalisePhone(input, 'PL'), { ok: true, e164: E164 }, JSON.stringify(input))
  }
})

t.test('normalisePhone uses the default region for national numbers', async (t) => {
  t.same(normalisePhone('07911 123456', 'GB'), { ok: true, e164: '+447911123456' })
  t.same(normalisePhone('+1 202 555 0123', 'PL'), { ok: true, e164: '+12025550123' })
  t.same(normalisePhone('0048500600700', 'GB'), { ok: true, e164: E164 }, 'international prefix of the region')
  t.not(normalisePhone('48500600700', 'DE'), { ok: true, e164: E164 },
    'the 48-without-plus reading is only for region PL')
})

t.test('normalisePhone rejects with a reason', async (t) => {
  const cases: Array<[string, string]> = [
    ['45616', 'too_short'],
    ['1', 'too_short'],
    ['+48', 'too_short'],
    ['+4850060070099', 'too_long'],
    ['+999 1234567', 'invalid_country'],
    ['7799123', 'invalid'],
    ['+48 999 999 999', 'invalid'],
    ['', 'not_a_number'],
    ['+', 'not_a_number'],
    ['()-', 'not_a_number'],
    ['500 600 7OO', 'not_a_number'],
    ['tel:500600700', 'not_a_number'],
    ['500600700 ext 12', 'not_a_number'],
    ['500600700#1', 'not_a_number'],
    ['50+0600700', 'not_a_number'],
    ['５００６００７００', 'not_a_number'],
    ['1'.repeat(33), 'not_a_number']
  ]
  for (const [input, reason] of cases) {
    t.same(normalisePhone(input, 'PL'), { ok: false, reason }, JSON.stringify(input))
  }
})

t.test('normalisePhone refuses huge input quickly', async (t) => {
  const huge = '5'.repeat(1_000_000)
  const started = performance.now()
  t.same(normalisePhone(huge, 'PL'), { ok: false, reason: 'not_a_number' })
  t.ok(performance.now() - started < 50, 'rejected on length alone')
})

t.test('isSupportedRegion', async (t) => {
  t.ok(isSupportedRegion('PL'))
  t.ok(isSupportedRegion('GB'))
  t.notOk(isSupportedRegion('pl'), 'region codes are upper case')
  t.notOk(isSupportedRegion('XX'))
  t.notOk(isSupportedRegion(''))
})

t.test('maskPhone', async (t) => {
  t.equal(maskPhone('+48500600700'), '+48500***700')
  t.equal(maskPhone('+447911123456'), '+44791****456')
  t.equal(maskPhone('48500600700'), '48500***700', 'without plus keeps five characters')
  t.equal(maskPhone('500600700'), '*******00', 'too short to keep head and tail')
  t.equal(maskPhone('+4850060070'), '*********70')
  t.equal(maskPhone('12345'), '***45')
  t.equal(maskPhone('1234'), '**34')
  t.equal(maskPhone('12'), '**')
  t.equal(maskPhone('1'), '*')
  t.equal(maskPhone(''), '')

  for (let length = 5; length <= 20; length++) {
    const phone = '+' + '123456789'.repeat(3).slice(0, length - 1)
    const masked = maskPhone(phone)
    t.equal(masked.length, phone.length, `length ${length} is preserved`)
    t.ok(masked.includes('*') && masked !== phone, `length ${length} is never shown in full`)
    t.ok((masked.match(/\*/g) ?? []).length >= 3, `length ${length} hides at least three characters`)
  }
})
