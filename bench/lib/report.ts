import type { LatencySummary } from './latency.js'
import { summarisePaired } from './paired.js'

/** One line of a row: a measure, the subject's figure and, where there is one, the baseline's. */
export interface Figure {
  measure: string
  unit: string
  subject: number
  baseline?: number
}

/** A target of the issue, checked against this run's figures. */
export interface Check {
  name: string
  value: number
  unit: string
  /** e.g. ">= 0.8" */
  target: string
  pass: boolean
  /** for a ratio measured in rounds: the 95% interval of the rounds' mean ratio */
  rounds?: RoundsInterval
}

export interface RoundsInterval {
  rounds: number
  low: number
  high: number
  /** false when the interval holds the target: this run alone cannot say which side of it the code is on */
  decided: boolean
}

export interface Row {
  id: 'send' | 'dlr' | 'bulk' | 'startup' | 'kannel' | 'clients'
  title: string
  subject: string
  baseline: string
  /** set when the row could not run; its figures are then empty */
  skipped?: string
  figures: Figure[]
  checks: Check[]
  notes: string[]
}

export const atLeast = (name: string, value: number, minimum: number, unit = '×'): Check =>
  ({ name, value, unit, target: `>= ${minimum}`, pass: value >= minimum })

/**
 * atLeast for a ratio measured in rounds (bench/lib/interleave.ts): judged on the run's ratio, as
 * before, with the interval its rounds give beside it.
 */
export function ratioAtLeast (name: string, value: number, minimum: number, roundRatios: readonly number[]): Check {
  const check = atLeast(name, value, minimum)
  if (roundRatios.length < 2) return check
  const { rounds, low, high } = summarisePaired(roundRatios)
  return { ...check, rounds: { rounds, low, high, decided: low >= minimum || high < minimum } }
}

/** The ratio each round gave, for the row's notes. */
export function roundsNote (roundRatios: readonly number[]): string {
  return `throughput ratio of each round (both servers started afresh for it): ${roundRatios.map((ratio) => ratio.toFixed(2)).join(' ')}`
}

export const atMost = (name: string, value: number, maximum: number, unit: string): Check =>
  ({ name, value, unit, target: `<= ${maximum}`, pass: value <= maximum })

export function latencyFigures (label: string, subject: LatencySummary, baseline?: LatencySummary): Figure[] {
  return [
    { measure: `${label} p50`, unit: 'ms', subject: subject.p50, ...(baseline === undefined ? {} : { baseline: baseline.p50 }) },
    { measure: `${label} p99`, unit: 'ms', subject: subject.p99, ...(baseline === undefined ? {} : { baseline: baseline.p99 }) }
  ]
}

export function skippedRow (row: Omit<Row, 'figures' | 'checks' | 'notes' | 'skipped'>, reason: string): Row {
  return { ...row, skipped: reason, figures: [], checks: [], notes: [] }
}

const SIGNIFICANT = 3

export function formatNumber (value: number): string {
  if (!Number.isFinite(value)) return String(value)
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US')
  return Number(value.toPrecision(SIGNIFICANT)).toString()
}

/** The table `npm run bench` prints: per row its figures, then its checks against the targets. */
export function formatTable (rows: readonly Row[], header: string): string {
  const lines: string[] = [header, '']
  for (const row of rows) {
    lines.push(`${row.title}`)
    if (row.skipped !== undefined) {
      lines.push(`  skipped: ${row.skipped}`, '')
      continue
    }
    const table: string[][] = [['', row.subject, row.baseline, 'ratio']]
    for (const figure of row.figures) {
      const ratio = figure.baseline === undefined || figure.baseline === 0 ? '' : `${formatNumber(figure.subject / figure.baseline)}×`
      table.push([
        `${figure.measure} (${figure.unit})`,
        formatNumber(figure.subject),
        figure.baseline === undefined ? '' : formatNumber(figure.baseline),
        ratio
      ])
    }
    lines.push(...alignColumns(table).map((line) => `  ${line}`))
    for (const check of row.checks) {
      const unit = check.unit === '×' ? '×' : ` ${check.unit}`
      lines.push(`  ${check.pass ? 'PASS' : 'FAIL'}  ${check.name}: ${formatNumber(check.value)}${unit} (target ${check.target}${unit})`)
      if (check.rounds !== undefined) {
        const { rounds, low, high, decided } = check.rounds
        lines.push(`        ${rounds} rounds, 95% interval of their mean ratio ${low.toFixed(2)}–${high.toFixed(2)}${unit}${decided ? '' : ': it holds the target, so this run alone does not decide it'}`)
      }
    }
    for (const note of row.notes) lines.push(`  note: ${note}`)
    lines.push('')
  }
  return lines.join('\n')
}

function alignColumns (table: string[][]): string[] {
  const widths = table[0]!.map((_, column) => Math.max(...table.map((cells) => cells[column]!.length)))
  return table.map((cells) => cells.map((cell, column) => column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)).join('   ').trimEnd())
}
