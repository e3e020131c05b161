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

/**
 * Older SerwerSMS interfaces reported states in Polish, with or without diacritics: the words are
 * listed without them, and a word that is not found as it came is looked up again without them.
 * Participles come in both genders: of a message (wiadomość doręczona) and of an SMS (SMS doręczony).
 */
const POLISH_STATES: ReadonlyArray<[string, DeliveryState]> = [
  ['doreczono', 'delivered'],
  ['doreczona', 'delivered'],
  ['doreczony', 'delivered'],
  ['dostarczono', 'delivered'],
  ['dostarczona', 'delivered'],
  ['dostarczony', 'delivered'],
  ['niedoreczono', 'undelivered'],
  ['niedoreczona', 'undelivered'],
  ['niedoreczony', 'undelivered'],
  ['niedostarczono', 'undelivered'],
  ['niedostarczona', 'undelivered'],
  ['niedostarczony', 'undelivered'],
  ['wyslano', 'sent'],
  ['wyslana', 'sent'],
  ['wyslany', 'sent'],
  ['oczekuje', 'pending'],
  ['oczekujaca', 'pending'],
  ['oczekujacy', 'pending'],
  ['niewyslano', 'unsent'],
  ['niewyslana', 'unsent'],
  ['niewyslany', 'unsent'],
  ['w_trakcie', 'in_progress'],
  ['kolejka', 'in_progress'],
  ['zapisana', 'saved'],
  ['zapisany', 'saved'],
  ['zaplanowana', 'saved'],
  ['zaplanowany', 'saved']
]
const COMBINING_MARKS = /\p{Mn}/gu
/**
 * The one Polish letter (ł) that Unicode does not decompose into a base letter and a mark. Written
 * as an escape: esbuild keeps a regular expression's characters as they are, and one character
 * beyond Latin-1 makes V8 hold the whole bundle's source in two bytes a character (+1 MB idle).
 */
const L_WITH_STROKE = /\u0142/g

function withoutDiacritics (word: string): string {
  return word.normalize('NFD').replace(COMBINING_MARKS, '').replace(L_WITH_STROKE, 'l')
}

const STATE_BY_WORD = new Map<string, DeliveryState>([
  ...DELIVERY_STATES.map((state): [string, DeliveryState] => [state, state]),
  ...POLISH_STATES
])
const KNOWN_REASONS = new Set<string>(DELIVERY_REASONS)
/** Arrives literally when the provider had no reason to fill into the dlr_url. */
const UNFILLED_REASON = DLR_PLACEHOLDERS.reason.toLowerCase()
const WORD_GAPS = /[\s-]+/g

/** 'w trakcie' and 'w_trakcie' (and 'in progress', 'Message expired') are the same word to us. */
function toKey (raw: string): string {
  return raw.trim().toLowerCase().replace(WORD_GAPS, '_')
}

export function mapDeliveryState (raw: string | undefined): DeliveryState {
  if (raw === undefined) return 'other'
  // A word as the table has it (the provider's own, as it sends them) needs no normalising.
  const exact = STATE_BY_WORD.get(raw)
  if (exact !== undefined) return exact
  const key = toKey(raw)
  return STATE_BY_WORD.get(key) ?? STATE_BY_WORD.get(withoutDiacritics(key)) ?? 'other'
}

export function mapDeliveryReason (raw: string | undefined): DeliveryReason {
  if (raw !== undefined && KNOWN_REASONS.has(raw)) return raw as DeliveryReason
  const key = toKey(raw ?? '')
  if (key === '' || key === UNFILLED_REASON) return 'none'
  return KNOWN_REASONS.has(key) ? key as DeliveryReason : 'other'
}
