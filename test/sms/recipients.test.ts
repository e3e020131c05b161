import t from 'tap'
import type { CountryCode } from 'libphonenumber-js'
import { RECIPIENT_ERRORS } from '../../src/errors.js'
import { RecipientPlanner, type PlannedRecipient } from '../../src/sms/recipients.js'

/** The whole request planned at once, as dispatch does it one number at a time. */
function planRecipients (numbers: readonly string[], uniqueIds: readonly string[] | undefined, region: CountryCode) {
  const planner = new RecipientPlanner(region)
  const recipients: PlannedRecipient[] = []
  const sendable: number[] = []
  numbers.forEach((input, i) => {
    const recipient = planner.add(input, uniqueIds?.[i])
    if (recipient === undefined) return
    if (recipient.error === undefined) sendable.push(recipients.length)
    recipients.push(recipient)
  })
  return { recipients, sendable, duplicatesDropped: numbers.length - recipients.length }
}

const PHONE_INVALID = { code: 'GW_PHONE_INVALID', message: RECIPIENT_ERRORS.GW_PHONE_INVALID }
const repeats = (uniqueId: string) => ({ code: 'GW_RECIPIENT_REPEATED', message: `The same number as the recipient with uniqueId ${uniqueId}: not sent separately, its fate is that recipient's.` })

t.test('valid numbers keep the caller order and their uniqueIds', async (t) => {
  const plan = planRecipients(['500600700', '+48 500 600 701'], ['first', 'second'], 'PL')
  t.same(plan, {
    recipients: [
      { input: '500600700', phone: '+48500600700', uniqueId: 'first' },
      { input: '+48 500 600 701', phone: '+48500600701', uniqueId: 'second' }
    ],
    sendable: [0, 1],
    duplicatesDropped: 0
  })
})

t.test('numbers that normalise alike are sent once; a repeat with its own uniqueId is answered, not sent', async (t) => {
  const plan = planRecipients(
    ['500600700', '500600701', '+48500600700', '0048 500 600 700', '500600701'],
    ['a1', 'b1', 'a2', 'a3', 'b2'],
    'PL'
  )
  t.same(plan.recipients, [
    { input: '500600700', phone: '+48500600700', uniqueId: 'a1' },
    { input: '500600701', phone: '+48500600701', uniqueId: 'b1' },
    { input: '+48500600700', phone: '+48500600700', uniqueId: 'a2', error: repeats('a1'), repeat: true },
    { input: '0048 500 600 700', phone: '+48500600700', uniqueId: 'a3', error: repeats('a1'), repeat: true },
    { input: '500600701', phone: '+48500600701', uniqueId: 'b2', error: repeats('b1'), repeat: true }
  ])
  t.same(plan.sendable, [0, 1])
})

t.test('without uniqueIds a repeat leaves no trace', async (t) => {
  const plan = planRecipients(['500600700', '+48500600700', '500600700'], undefined, 'PL')
  t.same(plan.recipients, [{ input: '500600700', phone: '+48500600700' }])
  t.equal(plan.duplicatesDropped, 2)
})

t.test('a repeat with a uniqueId of a first without one says so without naming it', async (t) => {
  const planner = new RecipientPlanner('PL')
  t.same(planner.add('500600700', undefined), { input: '500600700', phone: '+48500600700' })
  t.same(planner.add('+48500600700', 'later1'), { input: '+48500600700', phone: '+48500600700', uniqueId: 'later1', error: { code: 'GW_RECIPIENT_REPEATED', message: RECIPIENT_ERRORS.GW_RECIPIENT_REPEATED }, repeat: true })
})

t.test('invalid numbers are answered with the gateway\'s own code, each uniqueId too, and not sent', async (t) => {
  const plan = planRecipients(['45616', '500600700', '45616', 'abc', '7799123'], ['x1', 'ok', 'x2', 'x3', 'x4'], 'PL')
  t.same(plan.recipients, [
    { input: '45616', uniqueId: 'x1', error: PHONE_INVALID },
    { input: '500600700', phone: '+48500600700', uniqueId: 'ok' },
    { input: '45616', uniqueId: 'x2', error: PHONE_INVALID, repeat: true },
    { input: 'abc', uniqueId: 'x3', error: PHONE_INVALID },
    { input: '7799123', uniqueId: 'x4', error: PHONE_INVALID }
  ])
  t.same(plan.sendable, [1])
  t.notOk('phone' in (plan.recipients[0] ?? {}), 'no phone key on an invalid entry')
})

t.test('without uniqueIds no entry carries the key', async (t) => {
  const plan = planRecipients(['500600700', 'nope', '500600700'], undefined, 'PL')
  t.same(plan.recipients, [
    { input: '500600700', phone: '+48500600700' },
    { input: 'nope', error: PHONE_INVALID }
  ])
  t.ok(plan.recipients.every((recipient) => !('uniqueId' in recipient)))
  t.same(plan.sendable, [0])
  t.equal(plan.duplicatesDropped, 1)
})

t.test('the default region reads national numbers', async (t) => {
  const plan = planRecipients(['07911 123456', '+447911123456'], undefined, 'GB')
  t.same(plan.recipients, [{ input: '07911 123456', phone: '+447911123456' }])
  t.equal(plan.duplicatesDropped, 1)
})

t.test('an empty request plans nothing', async (t) => {
  t.same(planRecipients([], [], 'PL'), { recipients: [], sendable: [], duplicatesDropped: 0 })
  t.same(planRecipients([], undefined, 'PL'), { recipients: [], sendable: [], duplicatesDropped: 0 })
})

t.test('a large request stays linear and aligned', async (t) => {
  const count = 20_000
  const numbers: string[] = []
  const uniqueIds: string[] = []
  for (let i = 0; i < count; i++) {
    // every number appears twice, the second time written internationally
    const national = '5' + String(i % (count / 2)).padStart(8, '0')
    numbers.push(i < count / 2 ? national : `+48${national}`)
    uniqueIds.push(`id${i}`)
  }
  const plan = planRecipients(numbers, uniqueIds, 'PL')
  t.equal(plan.recipients.length, count, 'every uniqueId answered')
  t.equal(plan.sendable.length, count / 2)
  t.same(plan.recipients[1234], { input: '500001234', phone: '+48500001234', uniqueId: 'id1234' })
  t.same(plan.recipients[count / 2 + 1234], { input: '+48500001234', phone: '+48500001234', uniqueId: `id${count / 2 + 1234}`, error: repeats('id1234'), repeat: true })
  t.ok(plan.sendable.every((index, position) => index === position))
})
