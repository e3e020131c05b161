import t from 'tap'
import { DELIVERY_REASONS, DELIVERY_STATES, mapDeliveryReason, mapDeliveryState } from '../../src/dlr/states.js'

t.test('English state names map to themselves', async (t) => {
  for (const state of DELIVERY_STATES) t.equal(mapDeliveryState(state), state)
  t.equal(mapDeliveryState('  DELIVERED \n'), 'delivered', 'trimmed and case-insensitive')
  t.equal(mapDeliveryState('In_Progress'), 'in_progress')
  t.equal(mapDeliveryState('in progress'), 'in_progress')
})

t.test('Polish state words from older interfaces', async (t) => {
  const expected: Record<string, string> = {
    doreczono: 'delivered',
    doręczona: 'delivered',
    dostarczono: 'delivered',
    DOSTARCZONA: 'delivered',
    niedoreczono: 'undelivered',
    niedoręczona: 'undelivered',
    niedostarczono: 'undelivered',
    niedostarczona: 'undelivered',
    wyslano: 'sent',
    wysłana: 'sent',
    WYSŁANO: 'sent',
    oczekuje: 'pending',
    oczekujaca: 'pending',
    oczekująca: 'pending',
    niewyslano: 'unsent',
    niewysłana: 'unsent',
    w_trakcie: 'in_progress',
    'w trakcie': 'in_progress',
    'W  Trakcie': 'in_progress',
    kolejka: 'in_progress',
    zapisana: 'saved',
    zaplanowana: 'saved',
    doręczono: 'delivered',
    doreczona: 'delivered',
    niedoręczono: 'undelivered',
    niedoreczona: 'undelivered',
    wyslana: 'sent',
    niewysłano: 'unsent',
    niewyslana: 'unsent',
    NIEDORĘCZONO: 'undelivered',
    doręczony: 'delivered',
    dostarczony: 'delivered',
    niedoręczony: 'undelivered',
    niedostarczony: 'undelivered',
    wysłany: 'sent',
    oczekujący: 'pending',
    niewysłany: 'unsent',
    zapisany: 'saved',
    zaplanowany: 'saved'
  }
  for (const [word, state] of Object.entries(expected)) t.equal(mapDeliveryState(word), state, word)
  t.equal(mapDeliveryState('doręczono'.normalize('NFD')), 'delivered', 'a letter and its combining mark')
})

t.test('anything else is other', async (t) => {
  for (const raw of [undefined, '', '   ', '1', '404', '#STAN#', 'deliver', 'delivered!', 'constructor', '__proto__']) {
    t.equal(mapDeliveryState(raw), 'other', JSON.stringify(raw))
  }
})

t.test('reasons', async (t) => {
  for (const reason of DELIVERY_REASONS) t.equal(mapDeliveryReason(reason), reason)
  t.equal(mapDeliveryReason(' Message_Expired '), 'message_expired', 'trimmed and case-insensitive')
  t.equal(mapDeliveryReason(undefined), 'none')
  t.equal(mapDeliveryReason(''), 'none')
  t.equal(mapDeliveryReason('  '), 'none')
  t.equal(mapDeliveryReason('#PRZYCZYNA#'), 'none', 'the placeholder left unfilled')
  t.equal(mapDeliveryReason('#przyczyna#'), 'none')
  t.equal(mapDeliveryReason('battery_flat'), 'other')
  t.equal(mapDeliveryReason('3103'), 'other')
  t.equal(mapDeliveryReason('Message expired'), 'message_expired', 'spaces and hyphens are gaps between words, as in states')
  t.equal(mapDeliveryReason('message-expired'), 'message_expired')
  t.equal(mapDeliveryReason(' Wrong  Number '), 'wrong_number')
  t.equal(mapDeliveryReason('message expired!'), 'other', 'otherwise matched exactly')
})
