/** @see SerwerSMS HTTPS API v2, messages/send_sms — `date` is provider (Polish) local time */
export const PROVIDER_TIME_ZONE = 'Europe/Warsaw'

const MS_PER_SECOND = 1000
const MS_PER_MINUTE = 60 * MS_PER_SECOND
const MS_PER_HOUR = 60 * MS_PER_MINUTE
const MS_PER_DAY = 24 * MS_PER_HOUR
const MONTHS_PER_YEAR = 12
const MAX_HOUR = 23
const MAX_MINUTE = 59
const MAX_SECOND = 59
const MAX_OFFSET_HOURS = 14
const MS_DIGITS = 3

const WALL_TIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$/
const ISO_WITH_OFFSET =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:(Z)|([+-])(\d{2}):?(\d{2}))$/i

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

/** Throws RangeError for an invalid Date or an unknown time zone. */
export function formatProviderDate (instant: Date, timeZone: string = PROVIDER_TIME_ZONE): string {
  const epochMs = instant.getTime()
  const epochSecond = Math.floor(epochMs / 1000)
  // The simulator stamps every queued message with the time: one Intl call per second, not per message.
  if (epochSecond === lastFormatted.second && timeZone === lastFormatted.timeZone) return lastFormatted.text
  const { year, month, day, hour, minute, second } = readWallTime(epochMs, timeZone)
  const text = `${pad(year, 4)}-${pad(month)}-${pad(day)} ${pad(hour)}:${pad(minute)}:${pad(second)}`
  if (Number.isFinite(epochSecond)) Object.assign(lastFormatted, { second: epochSecond, timeZone, text })
  return text
}

const lastFormatted = { second: Number.NaN, timeZone: '', text: '' }

/** setUTCFullYear, unlike Date.UTC, does not read years 0–99 as 1900–1999. */
function toUtcMs ({ year, month, day, hour, minute, second }: WallTime): number {
  const date = new Date(0)
  date.setUTCFullYear(year, month - 1, day)
  date.setUTCHours(hour, minute, second, 0)
  return date.getTime()
}

function countDaysInMonth (year: number, month: number): number {
  return new Date(toUtcMs({ year, month: month + 1, day: 0, hour: 0, minute: 0, second: 0 })).getUTCDate()
}

/** Rejects what Date would silently roll over, such as 31 April or 24:00. */
function isRealWallTime (wall: WallTime): boolean {
  return wall.month >= 1 && wall.month <= MONTHS_PER_YEAR &&
    wall.day >= 1 && wall.day <= countDaysInMonth(wall.year, wall.month) &&
    wall.hour <= MAX_HOUR && wall.minute <= MAX_MINUTE && wall.second <= MAX_SECOND
}

/** Exact for whole-second instants, which is all this module asks about. */
function offsetAt (epochMs: number, timeZone: string): number {
  return toUtcMs(readWallTime(epochMs, timeZone)) - epochMs
}

/**
 * Same choice as Temporal's 'compatible' disambiguation: a wall time repeated when clocks go
 * back is the earlier instant; one skipped when they go forward moves ahead by the gap.
 */
function resolveWallTime (wall: WallTime, timeZone: string): number {
  const asIfUtc = toUtcMs(wall)
  // Real zones never change offset twice within two days, so these bracket any transition.
  const offsetBefore = offsetAt(asIfUtc - MS_PER_DAY, timeZone)
  const offsetAfter = offsetAt(asIfUtc + MS_PER_DAY, timeZone)
  const earlier = asIfUtc - Math.max(offsetBefore, offsetAfter)
  const later = asIfUtc - Math.min(offsetBefore, offsetAfter)
  if (offsetAt(earlier, timeZone) === asIfUtc - earlier) return earlier
  if (offsetAt(later, timeZone) === asIfUtc - later) return later
  return asIfUtc - offsetBefore
}

/** Reads the six leading captures that both accepted formats share. */
function readCapturedWallTime (match: RegExpExecArray): WallTime | undefined {
  const [, year, month, day, hour, minute, second = '0'] = match
  const wall: WallTime = {
    year: Number(year),
    month: Number(month),
    day: Number(day),
    hour: Number(hour),
    minute: Number(minute),
    second: Number(second)
  }
  return isRealWallTime(wall) ? wall : undefined
}

function parseIsoWithOffset (match: RegExpExecArray): Date | undefined {
  const wall = readCapturedWallTime(match)
  if (wall === undefined) return undefined
  const [fraction = '', zulu, sign, offsetHours, offsetMinutes] = match.slice(7)
  let offset = 0
  if (zulu === undefined) {
    const hours = Number(offsetHours)
    const minutes = Number(offsetMinutes)
    if (hours > MAX_OFFSET_HOURS || minutes > MAX_MINUTE) return undefined
    offset = (sign === '-' ? -1 : 1) * (hours * MS_PER_HOUR + minutes * MS_PER_MINUTE)
  }
  const millis = Number(fraction.slice(0, MS_DIGITS).padEnd(MS_DIGITS, '0'))
  return new Date(toUtcMs(wall) + millis - offset)
}

/**
 * Also takes ISO 8601 with an offset; without one, the text is wall time in `timeZone`.
 * Throws RangeError for an unknown time zone, as formatProviderDate does.
 */
export function parseProviderDate (text: string, timeZone: string = PROVIDER_TIME_ZONE): Date | undefined {
  const iso = ISO_WITH_OFFSET.exec(text)
  if (iso !== null) return parseIsoWithOffset(iso)
  const match = WALL_TIME.exec(text)
  const wall = match === null ? undefined : readCapturedWallTime(match)
  return wall === undefined ? undefined : new Date(resolveWallTime(wall, timeZone))
}
