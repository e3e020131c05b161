// deploy/prometheus: promtool accepts the config and the rules, the alert unit
// tests pass, every alert is tested, and the alerts only use metrics the
// gateway exports.
import t from 'tap'
import { exportedMetricNames, readYaml, repoPath, run, toolFor } from './helpers.js'
import { metricNamesInPromQL, PROMETHEUS_SYNTHETIC_METRICS } from './promql.js'

interface Rule { alert?: string, record?: string, expr: string, for?: string, labels?: Record<string, string>, annotations?: Record<string, string> }
interface RulesFile { groups: Array<{ name: string, rules: Rule[] }> }
interface RuleTests {
  rule_files: string[]
  tests: Array<{ name?: string, alert_rule_test?: Array<{ alertname: string, exp_alerts?: unknown[] }> }>
}

const dir = repoPath('deploy', 'prometheus')

t.test('promtool', async (t) => {
  const promtool = toolFor(t, 'promtool', 'prometheus', process.env.PROMTOOL)
  if (promtool === undefined) return
  const checks: Array<[string, string[]]> = [
    ['check config', ['check', 'config', 'prometheus.yml']],
    ['check rules', ['check', 'rules', 'alerts.yml']],
    ['test rules', ['test', 'rules', 'alerts.test.yml']]
  ]
  for (const [name, args] of checks) {
    const r = run(promtool, args, { cwd: dir })
    t.equal(r.status, 0, `promtool ${name}`, { output: r.output })
    t.match(r.output, /SUCCESS/, `promtool ${name} says SUCCESS`)
  }
})

const rules = readYaml<RulesFile>('deploy', 'prometheus', 'alerts.yml')
const alerts = rules.groups.flatMap((g) => g.rules).filter((r): r is Rule & { alert: string } => typeof r.alert === 'string')

t.test('the alerts an operator wants are there', async (t) => {
  const exprOf = (name: string): string => alerts.find((a) => a.alert === name)?.expr ?? ''
  t.match(exprOf('SmsDeliveryRatioLow'), /sms_gateway_delivery_reports_total\{status="delivered"/, 'delivery ratio below a threshold')
  t.match(exprOf('SmsUpstreamErrorRateHigh'), /sms_gateway_upstream_requests_total\{outcome!~"ok\|refused"/, 'upstream errors, the caller\'s refused texts left out')
  t.match(exprOf('SmsUpstreamTimeouts'), /outcome=~"timeout\|network"/, 'upstream timeouts')
  t.match(exprOf('SmsDeliveryReportsRejected'), /sms_gateway_delivery_reports_rejected_total/, 'rejected reports')
  t.match(exprOf('SmsNoDeliveryReports'), /sms_gateway_messages_total[\s\S]*unless[\s\S]*sms_gateway_delivery_reports_total/, 'no reports despite sends')
  t.match(exprOf('SmsGatewayDown'), /^up\{job="sms-gateway"\}/, 'gateway down')
  t.match(exprOf('SmsDeliveryReportPairsEvicted'), /sms_gateway_delivery_reports_dedup_evicted_total/, 'report pairs forgotten inside the dedup window')
})

t.test('every alert has a severity, a summary and a description', async (t) => {
  const names = new Set<string>()
  for (const a of alerts) {
    t.notOk(names.has(a.alert), `${a.alert} is unique`)
    names.add(a.alert)
    t.match(a.labels?.severity, /^(warning|critical)$/, `${a.alert} severity`)
    t.ok(a.annotations?.summary, `${a.alert} summary`)
    t.ok(a.annotations?.description, `${a.alert} description`)
  }
})

t.test('every alert has a unit test that makes it fire', async (t) => {
  const tests = readYaml<RuleTests>('deploy', 'prometheus', 'alerts.test.yml')
  t.same(tests.rule_files, ['alerts.yml'])
  const fired = new Set<string>()
  for (const test of tests.tests) {
    for (const a of test.alert_rule_test ?? []) {
      if ((a.exp_alerts ?? []).length > 0) fired.add(a.alertname)
    }
  }
  for (const a of alerts) t.ok(fired.has(a.alert), `${a.alert} is expected to fire in alerts.test.yml`)
})

t.test('alerts use only metrics the gateway exports', async (t) => {
  const allowed = new Set([...await exportedMetricNames(t), ...PROMETHEUS_SYNTHETIC_METRICS])
  for (const a of alerts) {
    const names = metricNamesInPromQL(a.expr)
    t.ok(names.length > 0, `${a.alert} selects some metric`)
    for (const n of names) t.ok(allowed.has(n), `${a.alert}: ${n} is exported`)
  }
})

t.test('prometheus.yml scrapes the gateway and loads the alerts', async (t) => {
  interface Config { rule_files: string[], scrape_configs: Array<{ job_name: string, dns_sd_configs?: Array<{ names: string[], port: number }> }> }
  const cfg = readYaml<Config>('deploy', 'prometheus', 'prometheus.yml')
  t.same(cfg.rule_files, ['alerts.yml'])
  const job = cfg.scrape_configs.find((s) => s.job_name === 'sms-gateway')
  t.ok(job, 'job sms-gateway')
  t.same(job?.dns_sd_configs?.[0]?.names, ['sms-gateway'], 'finds replicas by the compose alias')
  t.equal(job?.dns_sd_configs?.[0]?.port, 9464, 'scrapes METRICS_PORT as set in docker-compose.yml')
})
