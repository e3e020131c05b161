const MS_PER_SECOND = 1000

const WARSAW_WALL_CLOCK = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/Warsaw',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23'
})

let cachedSecond = Number.NaN
let cachedText = ''

/** `YYYY-MM-DD HH:MM:SS` on the provider's (Polish) wall clock; cached per second for the hot path. */
export function formatWarsawTime (epochMs: number): string {
  const second = Math.floor(epochMs / MS_PER_SECOND)
  if (second === cachedSecond) return cachedText
  const fields: Partial<Record<Intl.DateTimeFormatPartTypes, string>> = {}
  for (const part of WARSAW_WALL_CLOCK.formatToParts(second * MS_PER_SECOND)) fields[part.type] = part.value
  cachedText = `${fields.year}-${fields.month}-${fields.day} ${fields.hour}:${fields.minute}:${fields.second}`
  cachedSecond = second
  return cachedText
}
