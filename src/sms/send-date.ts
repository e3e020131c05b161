/**
 * The zone of `date` is not documented: Polish local time is the likely reading, and SERWERSMS_TIME_ZONE
 * can say otherwise. @see ../../../shared/docs/serwersms-api.md "messages/send_sms" ([guess: zone])
 */
export const PROVIDER_TIME_ZONE = 'Europe/Warsaw'

const MS_PER_SECOND = 1000

interface WallTime { year: number, month: number, day: number, hour: number, minute: number, second: number }

const formatters = new Map<string, Intl.DateTimeFormat>()

function getFormatter (timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone)
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit'
    })
    formatters.set(timeZone, formatter)
  }
  return formatter
}

function readWallTime (epochMs: number, timeZone: string): WallTime {
  const wall: WallTime = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 }
  for (const part of getFormatter(timeZone).formatToParts(epochMs)) {
    if (part.type in wall) wall[part.type as keyof WallTime] = Number(part.value)
  }
  return wall
}

function pad (value: number, width = 2): string {
  return String(value).padStart(width, '0')
}

/** `YYYY-MM-DD HH:MM:SS`, the provider's format. */
function wallTimeText ({ year, month, day, hour, minute, second }: WallTime): string {
  return `${pad(year, 4)}-${pad(month)}-${pad(day)} ${pad(hour)}:${pad(minute)}:${pad(second)}`
}

/** Throws RangeError for an invalid Date or an unknown time zone. */
export function formatProviderDate (instant: Date, timeZone: string = PROVIDER_TIME_ZONE): string {
  const epochMs = instant.getTime()
  const epochSecond = Math.floor(epochMs / MS_PER_SECOND)
  // The simulator stamps every queued message with the time: one Intl call per second, not per message.
  if (epochSecond === lastFormatted.second && timeZone === lastFormatted.timeZone) return lastFormatted.text
  const text = wallTimeText(readWallTime(epochMs, timeZone))
  if (Number.isFinite(epochSecond)) Object.assign(lastFormatted, { second: epochSecond, timeZone, text })
  return text
}

const lastFormatted = { second: Number.NaN, timeZone: '', text: '' }

const HOUR_MS = 3_600_000

/**
 * Why the provider's local-time `date` cannot say this instant, or undefined when it can: in the
 * hour the provider's clocks repeat each autumn (Polish ones by default), one wall time names two instants an hour apart, and a
 * year past 9999 does not fit the format.
 */
export function unsayableInProviderTime (instant: Date, timeZone: string = PROVIDER_TIME_ZONE): string | undefined {
  const epochMs = instant.getTime()
  const wall = readWallTime(epochMs, timeZone)
  if (wall.year > 9999) return 'is beyond the year 9999, which the provider\'s date format cannot carry'
  const text = wallTimeText(wall)
  const wallTextAt = (otherMs: number) => wallTimeText(readWallTime(otherMs, timeZone))
  if (text === wallTextAt(epochMs - HOUR_MS) || text === wallTextAt(epochMs + HOUR_MS)) {
    const clocks = timeZone === PROVIDER_TIME_ZONE ? 'Polish clocks' : `clocks in ${timeZone}`
    const local = timeZone === PROVIDER_TIME_ZONE ? 'Polish local time' : `${timeZone} local time`
    return `falls in the hour ${clocks} repeat (${text.slice(11, 16)} on ${text.slice(0, 10)} happens twice), and the provider takes its time in ${local} without an offset; choose a time outside that hour`
  }
  return undefined
}

/**
 * The instant a provider `date` names (`YYYY-MM-DD HH:MM:SS`, wall time in `timeZone` without an
 * offset), as ms since epoch; NaN when it is no such date. The inverse of formatProviderDate: the
 * wall time read as UTC, moved by the zone's offset, twice, as the offset at the first guess may
 * not be the one at the answer (a guess across a daylight-saving change).
 */
export function instantOfProviderDate (date: string, timeZone: string): number {
  const wallTimeAsUtc = (text: string) => Date.parse(`${text.replace(' ', 'T')}Z`)
  const wanted = wallTimeAsUtc(date)
  if (Number.isNaN(wanted)) return Number.NaN
  let instant = wanted
  for (let guess = 0; guess < 2; guess++) instant += wanted - wallTimeAsUtc(formatProviderDate(new Date(instant), timeZone))
  return instant
}
