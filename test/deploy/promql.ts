// Helpers for the deployment tests: which metric names do PromQL expressions
// (alerts, dashboard panels) use, and which names does a /metrics page expose.
// Not a test file itself (add it to tap's "exclude" list in package.json).

/** Series Prometheus itself adds to every scrape target. */
export const PROMETHEUS_SYNTHETIC_METRICS: readonly string[] = ['up', 'scrape_duration_seconds', 'scrape_samples_scraped']

function histogram (name: string): string[] {
  return [`${name}_bucket`, `${name}_sum`, `${name}_count`]
}

const KEYWORDS = new Set([
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right',
  'and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan'
])

/**
 * The metric names an expression selects. Knows enough PromQL for alerting
 * rules and Grafana panels: strings, label matchers, range / subquery
 * brackets, grouping clauses, functions, keywords, numbers and durations,
 * comments, Grafana variables ($var, ${var}), and {__name__="..."} selectors.
 */
export function metricNamesInPromQL (expr: string): string[] {
  const names = new Set<string>()
  for (const m of expr.matchAll(/__name__\s*=\s*(["'`])([A-Za-z_:][\w:]*)\1/g)) {
    names.add(m[2] as string)
  }
  const s = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // string literals
    .replace(/#[^\n]*/g, ' ') // comments
    .replace(/\$\{[^}]*\}|\$\w+/g, ' 1 ') // Grafana variables outside strings
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // ranges, subqueries
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' ') // label lists

  const token = /[A-Za-z_:][\w:]*|\d[\w.]*|\S/g
  let m: RegExpExecArray | null
  while ((m = token.exec(s)) !== null) {
    const word = m[0]
    if (!/^[A-Za-z_:]/.test(word)) continue
    if (KEYWORDS.has(word.toLowerCase())) continue
    const rest = s.slice(token.lastIndex)
    if (/^\s*\(/.test(rest)) continue // function or aggregation
    names.add(word)
  }
  return [...names].sort()
}

/**
 * Series names a Prometheus text exposition (GET /metrics) can produce: every
 * sample name, and for every `# TYPE` line the names its samples get, even when
 * a labelled metric has no sample yet.
 */
export function metricNamesInExposition (text: string): string[] {
  const names = new Set<string>()
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '') continue
    const type = /^#\s*TYPE\s+([A-Za-z_:][\w:]*)\s+(\w+)/.exec(line)
    if (type) {
      const [, name, kind] = type as unknown as [string, string, string]
      if (kind === 'histogram') {
        for (const n of histogram(name)) names.add(n)
      } else if (kind === 'summary') {
        names.add(name)
        names.add(`${name}_sum`)
        names.add(`${name}_count`)
      } else {
        names.add(name)
      }
      continue
    }
    if (line.startsWith('#')) continue
    const sample = /^([A-Za-z_:][\w:]*)/.exec(line)
    if (sample) names.add(sample[1] as string)
  }
  return [...names].sort()
}

/** Replace Grafana's variables with values Prometheus accepts, for a syntax check. */
export function withGrafanaVariablesFilledIn (expr: string): string {
  return expr
    .replace(/\$__rate_interval|\$__interval|\$__range|\$\{__rate_interval\}|\$\{__interval\}|\$\{__range\}/g, '5m')
    .replace(/\$\{[^}]*\}|\$\w+/g, '.*')
}

export interface PanelQuery {
  panel: string
  expr: string
}

interface PanelLike {
  title?: string
  type?: string
  targets?: Array<{ expr?: string }>
  panels?: PanelLike[]
}

/** Every PromQL expression in a Grafana dashboard's panels (rows included). */
export function dashboardQueries (dashboard: { panels?: PanelLike[] }): PanelQuery[] {
  const out: PanelQuery[] = []
  const walk = (panels: PanelLike[] | undefined): void => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) {
        if (typeof t.expr === 'string' && t.expr.trim() !== '') out.push({ panel: p.title ?? '(untitled)', expr: t.expr })
      }
      walk(p.panels)
    }
  }
  walk(dashboard.panels)
  return out
}

/** Metric names used by Grafana query variables such as label_values(metric{...}, label). */
export function metricNamesInVariableQuery (query: string): string[] {
  const lv = /^\s*label_values\s*\(([\s\S]*),\s*\w+\s*\)\s*$/.exec(query)
  if (lv) return metricNamesInPromQL(lv[1] as string)
  const qr = /^\s*query_result\s*\(([\s\S]*)\)\s*$/.exec(query)
  if (qr) return metricNamesInPromQL(qr[1] as string)
  return []
}
