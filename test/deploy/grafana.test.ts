// deploy/grafana: the dashboard JSON parses, covers what the issue asks for,
// every query is valid PromQL (promtool parses it) and names only metrics the
// gateway exports; the provisioning files point at what compose mounts.
import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { exportedMetricNames, readText, readYaml, run, toolFor } from './helpers.js'
import {
  dashboardQueries,
  metricNamesInPromQL,
  metricNamesInVariableQuery,
  PROMETHEUS_SYNTHETIC_METRICS,
  withGrafanaVariablesFilledIn
} from './promql.js'

interface Panel {
  id: number
  type: string
  title: string
  gridPos: { h: number, w: number, x: number, y: number }
  datasource?: { type: string, uid: string }
  targets?: Array<{ refId: string, expr: string, datasource?: { type: string, uid: string } }>
  panels?: Panel[]
}
interface Dashboard {
  uid: string
  title: string
  schemaVersion: number
  panels: Panel[]
  templating: { list: Array<{ name: string, type: string, query?: string | { query: string } }> }
}

/** The scrape job of the gateway's replicas in deploy/prometheus/prometheus.yml. */
const GATEWAY_JOB = 'sms-gateway'
const dashboard = JSON.parse(readText('deploy', 'grafana', 'dashboards', 'sms-gateway.json')) as Dashboard
const queries = dashboardQueries(dashboard)
const allPanels: Panel[] = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])])

t.test('dashboard basics', async (t) => {
  t.equal(dashboard.uid, 'sms-gateway')
  t.ok(dashboard.title)
  t.ok(dashboard.schemaVersion >= 36, 'recent schema')
  const ids = allPanels.map((p) => p.id)
  t.equal(new Set(ids).size, ids.length, 'panel ids are unique')
  for (const p of allPanels) {
    t.ok(p.gridPos.x >= 0 && p.gridPos.w > 0 && p.gridPos.x + p.gridPos.w <= 24, `${p.title}: fits the 24-column grid`)
    if (p.type === 'row') continue
    t.ok((p.targets ?? []).length > 0, `${p.title}: has queries`)
    t.same(p.datasource, { type: 'prometheus', uid: '${datasource}' }, `${p.title}: uses the datasource variable`) // eslint-disable-line no-template-curly-in-string
    const refIds = (p.targets ?? []).map((q) => q.refId)
    t.equal(new Set(refIds).size, refIds.length, `${p.title}: refIds unique`)
  }
  const vars = dashboard.templating.list.map((v) => v.name)
  t.ok(vars.includes('datasource'), 'datasource variable')
})

t.test('dashboard shows what the issue asks for', async (t) => {
  const has = (title: RegExp, expr: RegExp): boolean =>
    queries.some((q) => title.test(q.panel) && expr.test(q.expr))
  t.ok(has(/send rate by status/i, /sum by \(status\) \(rate\(sms_gateway_messages_total/), 'send rate by status')
  t.ok(has(/delivery states/i, /sum by \(status\) \(rate\(sms_gateway_delivery_reports_total/), 'delivery states over time')
  t.ok(has(/delivery ratio/i, /status="delivered"[\s\S]*\/[\s\S]*status=~"delivered\|undelivered\|unsent"/), 'delivery ratio')
  t.ok(has(/delivery latency/i, /histogram_quantile\(0\.99, .*sms_gateway_delivery_seconds_bucket/), 'delivery latency percentiles')
  t.ok(has(/upstream latency/i, /sms_gateway_upstream_request_duration_seconds_bucket/), 'upstream latency')
  t.ok(has(/upstream (requests|error)/i, /sms_gateway_upstream_requests_total\{outcome!~"ok\|refused"/), 'upstream errors, the caller\'s refused texts left out')
  t.ok(has(/rejected/i, /sms_gateway_delivery_reports_rejected_total/), 'rejected reports')
  t.ok(has(/http latency .* by route/i, /sum by \(le, route\) \(rate\(sms_gateway_http_request_duration_seconds_bucket/), 'HTTP latency by route')
})

t.test('dashboard agrees with the alerts and shows the report counters they do not', async (t) => {
  const rejectedTotals = queries.filter((q) => allPanels.find((p) => p.title === q.panel)?.type === 'stat' && /sms_gateway_delivery_reports_rejected_total/.test(q.expr))
  t.ok(rejectedTotals.length > 0, 'a stat of rejected reports')
  for (const q of rejectedTotals) t.match(q.expr, /reason!="unsigned"/, `${q.panel}: what SmsDeliveryReportsRejected counts, without the public route's unsigned noise`)
  for (const q of queries) t.notMatch(q.expr, /increase\([^()]*\[\$__rate_interval\]\)/, `${q.panel}: no increase() over $__rate_interval, whose points change with the zoom`)
  for (const name of ['sms_gateway_delivery_reports_duplicate_total', 'sms_gateway_delivery_reports_dedup_evicted_total', 'sms_gateway_delivery_reports_before_send_total', 'sms_gateway_busy_refusals_total', 'sms_gateway_recipients_in_flight', 'sms_gateway_recipients_in_flight_limit']) {
    t.ok(queries.some((q) => q.expr.includes(name)), `${name} is on the dashboard`)
  }
})

t.test('dashboard queries use only metrics the gateway exports', async (t) => {
  const allowed = new Set([...await exportedMetricNames(t), ...PROMETHEUS_SYNTHETIC_METRICS])
  for (const q of queries) {
    const names = metricNamesInPromQL(q.expr)
    t.ok(names.length > 0, `${q.panel}: selects some metric`)
    for (const n of names) t.ok(allowed.has(n), `${q.panel}: ${n} is exported`)
  }
  for (const v of dashboard.templating.list) {
    if (v.type !== 'query') continue
    const query = typeof v.query === 'string' ? v.query : v.query?.query ?? ''
    const names = metricNamesInVariableQuery(query)
    t.ok(names.length > 0, `variable ${v.name}: understood`)
    for (const n of names) t.ok(allowed.has(n), `variable ${v.name}: ${n} is exported`)
  }
})

t.test('metrics not only the gateway exports (process_*, nodejs_*, up) are selected by the gateway\'s job', async (t) => {
  const scrapes = readYaml<{ scrape_configs: Array<{ job_name: string }> }>('deploy', 'prometheus', 'prometheus.yml').scrape_configs
  t.ok(scrapes.some((s) => s.job_name === GATEWAY_JOB), `prometheus.yml scrapes the gateway as job ${GATEWAY_JOB}`)
  t.ok(scrapes.length > 1, 'other jobs are scraped too (Prometheus itself), which an instance of "All" would show')
  let checked = 0
  for (const q of queries) {
    for (const name of metricNamesInPromQL(q.expr).filter((n) => !n.startsWith('sms_gateway_'))) {
      const selectors = [...q.expr.matchAll(new RegExp(`\\b${name}\\b(\\{[^}]*\\})?`, 'g'))]
      for (const [selector, matchers] of selectors) {
        checked++
        t.ok(matchers?.includes(`job="${GATEWAY_JOB}"`), `${q.panel}: ${selector} selects job="${GATEWAY_JOB}"`)
      }
    }
  }
  t.ok(checked >= 4, 'the runtime panels were looked at')
})

t.test('dashboard queries are valid PromQL (promtool parses them)', async (t) => {
  const promtool = toolFor(t, 'promtool', 'prometheus', process.env.PROMTOOL)
  if (promtool === undefined) return
  const dir = mkdtempSync(join(tmpdir(), 'dashboard-promql-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'dashboard-rules.yml')
  writeFileSync(file, stringify({
    groups: [{
      name: 'dashboard',
      rules: queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: withGrafanaVariablesFilledIn(q.expr) }))
    }]
  }))
  const r = run(promtool, ['check', 'rules', file])
  t.equal(r.status, 0, 'promtool check rules on the dashboard queries', { output: r.output })
  t.match(r.output, new RegExp(`SUCCESS: ${queries.length} rules found`))
})

t.test('provisioning matches the compose mounts', async (t) => {
  interface DsFile { datasources: Array<{ uid: string, type: string, url: string, isDefault?: boolean }> }
  interface DbFile { providers: Array<{ type: string, options: { path: string } }> }
  const ds = readYaml<DsFile>('deploy', 'grafana', 'provisioning', 'datasources', 'prometheus.yml')
  t.equal(ds.datasources.length, 1)
  t.match(ds.datasources[0], { uid: 'prometheus', type: 'prometheus', url: 'http://prometheus:9090', isDefault: true })
  const db = readYaml<DbFile>('deploy', 'grafana', 'provisioning', 'dashboards', 'sms-gateway.yml')
  t.equal(db.providers[0]?.type, 'file')
  const compose = readYaml<{ services: Record<string, { volumes?: string[] }> }>('docker-compose.yml')
  const mounts = compose.services.grafana?.volumes ?? []
  t.ok(mounts.includes(`./deploy/grafana/dashboards:${db.providers[0]?.options.path ?? '?'}:ro`), 'dashboards folder mounted where the provider looks')
  t.ok(mounts.includes('./deploy/grafana/provisioning:/etc/grafana/provisioning:ro'), 'provisioning mounted')
})
