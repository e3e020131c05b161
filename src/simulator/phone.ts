const SEPARATORS = /[\s-]+/g
// The shortest numbers in use have 7 digits with their country code (Niue +683 4002, Saint Helena +290 2xxx).
const INTERNATIONAL = /^\+\d{7,15}$/
const POLISH_NATIONAL = /^\d{9}$/
const POLISH_WITH_COUNTRY_CODE = /^48\d{9}$/
const POLISH_WITH_EXIT_CODE = /^0048\d{9}$/
const POLAND = '+48'

/**
 * The number in the provider's full format, or null when the provider would answer
 * 3103 "Incorrect number". Polish numbers may come without a prefix, as 48… or as 0048….
 * @see ../../../shared/seeds/serwersms-send_sms.txt
 */
export function normalisePhone (raw: string): string | null {
  const compact = raw.replace(SEPARATORS, '')
  // A Polish number has nine digits after +48, whichever way it is written: a gateway that cut
  // or padded one must not see it queued.
  if (compact.startsWith(POLAND)) return POLISH_WITH_COUNTRY_CODE.test(compact.slice(1)) ? compact : null
  if (INTERNATIONAL.test(compact)) return compact
  if (POLISH_NATIONAL.test(compact)) return POLAND + compact
  if (POLISH_WITH_COUNTRY_CODE.test(compact)) return '+' + compact
  if (POLISH_WITH_EXIT_CODE.test(compact)) return '+' + compact.slice(2)
  return null
}
