import { DLR_PLACEHOLDERS } from './signing.js'

/** @see SerwerSMS HTTPS API v2, messages/reports — the states it names */
export const DELIVERY_STATES = ['delivered', 'undelivered', 'sent', 'pending', 'unsent', 'in_progress', 'saved', 'other'] as const
export type DeliveryState = typeof DELIVERY_STATES[number]

export const DELIVERY_REASONS = [
  'message_expired',
  'unsupported_number',
  'message_rejected',
  'missed_call',
  'wrong_number',
  'limit_exhausted',
  'lock_send',
  'wrong_message',
  'operator_error',
  'wrong_sender_name',
  'number_is_blacklisted',
  'sending_to_foreign_networks_is_locked',
  'no_permission_to_send_messages',
  'other_error',
  'none',
  'other'
] as const
export type DeliveryReason = typeof DELIVERY_REASONS[number]

/** Older SerwerSMS interfaces reported states in Polish, with or without diacritics. */
const POLISH_STATES: ReadonlyArray<[string, DeliveryState]> = [
  ['doreczono', 'delivered'],
  ['doręczona', 'delivered'],
  ['dostarczono', 'delivered'],
  ['dostarczona', 'delivered'],
  ['niedoreczono', 'undelivered'],
  ['niedoręczona', 'undelivered'],
  ['niedostarczono', 'undelivered'],
  ['niedostarczona', 'undelivered'],
  ['wyslano', 'sent'],
  ['wysłana', 'sent'],
  ['wysłano', 'sent'],
  ['oczekuje', 'pending'],
  ['oczekujaca', 'pending'],
  ['oczekująca', 'pending'],
  ['niewyslano', 'unsent'],
  ['niewysłana', 'unsent'],
  ['w_trakcie', 'in_progress'],
  ['kolejka', 'in_progress'],
  ['zapisana', 'saved'],
  ['zaplanowana', 'saved']
]

const STATE_BY_WORD = new Map<string, DeliveryState>([
  ...DELIVERY_STATES.map((state): [string, DeliveryState] => [state, state]),
  ...POLISH_STATES
])
const KNOWN_REASONS = new Set<string>(DELIVERY_REASONS)
/** Arrives literally when the provider had no reason to fill into the dlr_url. */
const UNFILLED_REASON = DLR_PLACEHOLDERS.reason.toLowerCase()
const WORD_GAPS = /[\s-]+/g

function toKey (raw: string): string {
  return raw.trim().toLowerCase()
}

/** 'w trakcie' and 'w_trakcie' (and 'in progress') are the same word to us. */
export function mapDeliveryState (raw: string | undefined): DeliveryState {
  if (raw === undefined) return 'other'
  return STATE_BY_WORD.get(toKey(raw).replace(WORD_GAPS, '_')) ?? 'other'
}

export function mapDeliveryReason (raw: string | undefined): DeliveryReason {
  const key = toKey(raw ?? '')
  if (key === '' || key === UNFILLED_REASON) return 'none'
  return KNOWN_REASONS.has(key) ? key as DeliveryReason : 'other'
}
