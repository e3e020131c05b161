// Every metric the dashboard and the alerts use is exported by a real gateway.
// scripts/test-container.sh saves GET /metrics of the running container (after
// a send) and runs this file with METRICS_EXPOSITION_FILE pointing at it.
// Without that variable it compares against GET /metrics of a gateway started
// here, on a loopback port.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { exportedMetricNames, readText, readYaml } from './helpers.js'
import {
  dashboardQueries,
  metricNamesInExposition,
  metricNamesInPromQL,
  metricNamesInVariableQuery,
  PROMETHEUS_SYNTHETIC_METRICS
} from './promql.js'

const file = process.env.METRICS_EXPOSITION_FILE
const source = file ? `GET /metrics saved in ${file}` : 'GET /metrics of a gateway started here'

const used = new Map<string, Set<string>>() // metric -> where
const note = (name: string, where: string): void => {
  const s = used.get(name) ?? new Set<string>()
  s.add(where)
  used.set(name, s)
}
interface Dashboard { panels?: never[], templating?: { list: Array<{ name: string, type: string, query?: string | { query: string } }> } }
const dashboard = JSON.parse(readText('deploy', 'grafana', 'dashboards', 'sms-gateway.json')) as Dashboard
for (const q of dashboardQueries(dashboard)) for (const n of metricNamesInPromQL(q.expr)) note(n, `dashboard panel "${q.panel}"`)
for (const v of dashboard.templating?.list ?? []) {
  if (v.type !== 'query') continue
  const query = typeof v.query === 'string' ? v.query : v.query?.query ?? ''
  for (const n of metricNamesInVariableQuery(query)) note(n, `dashboard variable ${v.name}`)
}
const rules = readYaml<{ groups: Array<{ rules: Array<{ alert?: string, expr: string }> }> }>('deploy', 'prometheus', 'alerts.yml')
for (const g of rules.groups) for (const r of g.rules) for (const n of metricNamesInPromQL(r.expr)) note(n, `alert ${r.alert ?? '?'}`)

t.test(`dashboard and alerts use only metrics in ${source}`, async (t) => {
  const exported = file ? metricNamesInExposition(readFileSync(file, 'utf8')) : await exportedMetricNames(t)
  const allowed = new Set([...exported, ...PROMETHEUS_SYNTHETIC_METRICS])
  t.ok(exported.some((n) => n.startsWith('sms_gateway_')), 'the exposition has sms_gateway_ metrics')
  for (const [name, where] of [...used].sort()) {
    t.ok(allowed.has(name), `${name} is exported`, { usedBy: [...where] })
  }
})
