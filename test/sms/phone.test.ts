import t from 'tap'
import type { CountryCode } from 'libphonenumber-js'
import { isSupportedRegion, maskPhone, normalisePhone, regionPlan, validByPlan } from '../../src/sms/phone.js'

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
    '+48\u00a0500\u00a0600\u00a0700',
    '(+48) 500 600 700',
    '(+48)500600700'
  ]) {
    t.same(normalisePhone(input, 'PL'), { ok: true, e164: E164 }, JSON.stringify(input))
  }
})

t.test('normalisePhone uses the default region for national numbers', async (t) => {
  t.same(normalisePhone('07911 123456', 'GB'), { ok: true, e164: '+447911123456' })
  t.same(normalisePhone('+1 202 555 0123', 'PL'), { ok: true, e164: '+12025550123' })
  t.same(normalisePhone('(+44) 7911 123456', 'PL'), { ok: true, e164: '+447911123456' }, 'a bracketed calling code')
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
    ['48 (+500) 600 700', 'not_a_number'],
    ['((+48) 500 600 700', 'not_a_number'],
    ['５００６００７００', 'not_a_number'],
    ['1'.repeat(33), 'not_a_number']
  ]
  for (const [input, reason] of cases) {
    t.same(normalisePhone(input, 'PL'), { ok: false, reason }, JSON.stringify(input))
  }
})

t.test('normalisePhone refuses huge input on its length, before any pattern or parser sees it', async (t) => {
  // Digits only, so neither the character check nor the region plan would refuse them: the parser
  // would answer too_long. not_a_number shows the length check came first.
  t.same(normalisePhone('5'.repeat(1_000_000), 'PL'), { ok: false, reason: 'not_a_number' })
  t.same(normalisePhone('5'.repeat(33), 'PL', false), { ok: false, reason: 'not_a_number' })
  t.same(normalisePhone('5'.repeat(30), 'PL', false), { ok: false, reason: 'too_long' }, 'within the bound, the parser judges')
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

t.test('the compiled plan gives the parser\'s answer, number by number', async (t) => {
  const { getCountries, getExampleNumber } = await import('libphonenumber-js/max')
  const examples = (await import('libphonenumber-js/mobile/examples')).default
  const random = seeded(20261125)
  const digits = (count: number) => Array.from({ length: count }, () => Math.floor(random() * 10)).join('')
  let compared = 0
  let byPlan = 0
  const check = (input: string, region: CountryCode) => {
    const answer = normalisePhone(input, region)
    const parser = normalisePhone(input, region, false)
    compared++
    const planned = validByPlan(input, region)
    if (planned !== undefined) {
      byPlan++
      if (!parser.ok || parser.e164 !== planned) t.fail(`${JSON.stringify(input)} in ${region}: the plan says ${planned}, the parser ${JSON.stringify(parser)}`)
    }
    if (answer.ok !== parser.ok || (answer.ok ? answer.e164 !== (parser as { e164: string }).e164 : answer.reason !== (parser as { reason: string }).reason)) {
      t.fail(`${JSON.stringify(input)} in ${region}: plan ${JSON.stringify(answer)}, parser ${JSON.stringify(parser)}`)
    }
  }
  // Poland, densely: every three-digit start, every length the plan knows, in the forms people write.
  for (let start = 0; start < 1000; start++) {
    for (const length of [5, 6, 7, 8, 9, 10, 11]) {
      const national = String(start).padStart(3, '0') + digits(length - 3)
      for (const input of [national, `+48${national}`, `48${national}`, `+48 ${national.slice(0, 3)} ${national.slice(3)}`, `0${national}`, `+480${national}`]) check(input, 'PL')
    }
  }
  // Every region: its example numbers, and random numbers of every length around them.
  for (const region of getCountries()) {
    const example = getExampleNumber(region, examples)
    if (example !== undefined) {
      check(example.number, region)
      check(example.formatNational(), region)
      check(example.nationalNumber, 'PL')
    }
    for (let length = 4; length <= 13; length++) {
      const national = digits(length)
      check(national, region)
      check(`+${example?.countryCallingCode ?? '1'}${national}`, region)
    }
  }
  t.ok(compared > 40_000, `${compared} numbers compared`)
  t.ok(byPlan > 3_000, `${byPlan} of them valid by the compiled plan alone, each as the parser says`)
  t.not(regionPlan('PL'), undefined, 'Poland has a compiled plan: libphonenumber-js still exposes what it needs')
  t.equal(regionPlan('GB'), undefined, 'no plan where a calling code is shared (+44 is also Jersey, Guernsey, Man)')
})

/** A small deterministic generator (mulberry32), so a failure names numbers that can be tried again. */
function seeded (seed: number): () => number {
  let state = seed
  return () => {
    state = (state + 0x6d2b79f5) | 0
    let x = Math.imul(state ^ (state >>> 15), 1 | state)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}
