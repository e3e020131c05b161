import t from 'tap'
import {
  dashboardQueries,
  metricNamesInExposition,
  metricNamesInPromQL,
  metricNamesInVariableQuery,
  withGrafanaVariablesFilledIn
} from './promql.js'

t.test('metricNamesInPromQL', async (t) => {
  const cases: Array<[string, string[]]> = [
    ['up', ['up']],
    ['up{job="sms-gateway"} == 0', ['up']],
    ['absent(up{job="sms-gateway"})', ['up']],
    ['sum by (status) (rate(sms_gateway_messages_total{client=~"$client"}[$__rate_interval]))', ['sms_gateway_messages_total']],
    ['sum(rate(a_total[5m])) by (le, route)', ['a_total']],
    ['sum without (instance) (rate(a_total[5m:1m]))', ['a_total']],
    ['histogram_quantile(0.95, sum by (le) (rate(x_seconds_bucket{outcome!="ok"}[10m]))) > 5', ['x_seconds_bucket']],
    ['(sum(rate(a_total{status="delivered"}[30m])) or vector(0)) / sum(rate(a_total[30m])) < 0.9 and sum(increase(a_total[30m])) >= 20', ['a_total']],
    ['a_total unless b_total > 0', ['a_total', 'b_total']],
    ['a / on (instance) group_left (version) b', ['a', 'b']],
    ['a / ignoring (code) group_right b', ['a', 'b']],
    ['a > bool 1e3 and a offset 1h < 0x1F', ['a']],
    ['label_replace(up, "dst", "$1", "instance", "(.*):.*")', ['up']],
    ['{__name__="process_open_fds"}', ['process_open_fds']],
    ['a # the rest is a comment: b_total\n+ c', ['a', 'c']],
    ['rate(a[${__rate_interval}]) * ${factor}', ['a']], // eslint-disable-line no-template-curly-in-string
    ['a AND b OR c UNLESS d', ['a', 'b', 'c', 'd']],
    ['Inf + NaN + 1', []],
    ['a == "quoted \\" b_total"', ['a']],
    ['job:requests:rate5m > 1', ['job:requests:rate5m']]
  ]
  for (const [expr, want] of cases) {
    t.same(metricNamesInPromQL(expr), want, expr)
  }
})

t.test('metricNamesInExposition', async (t) => {
  const text = [
    '# HELP sms_gateway_messages_total Messages.',
    '# TYPE sms_gateway_messages_total counter',
    '# HELP sms_gateway_delivery_seconds Delivery time.',
    '# TYPE sms_gateway_delivery_seconds histogram',
    '# TYPE rpc_duration summary',
    '# TYPE process_open_fds gauge',
    'process_open_fds 12',
    'untyped_metric{a="b"} 1',
    '',
    '# comment'
  ].join('\n')
  t.same(metricNamesInExposition(text), [
    'process_open_fds',
    'rpc_duration',
    'rpc_duration_count',
    'rpc_duration_sum',
    'sms_gateway_delivery_seconds_bucket',
    'sms_gateway_delivery_seconds_count',
    'sms_gateway_delivery_seconds_sum',
    'sms_gateway_messages_total',
    'untyped_metric'
  ])
})

t.test('withGrafanaVariablesFilledIn', async (t) => {
  t.equal(
    withGrafanaVariablesFilledIn('rate(a{instance=~"$instance",c=~"${client}"}[$__rate_interval]) + increase(a[$__range]) + rate(a[${__interval}])'), // eslint-disable-line no-template-curly-in-string
    'rate(a{instance=~".*",c=~".*"}[5m]) + increase(a[5m]) + rate(a[5m])'
  )
})

t.test('dashboardQueries walks rows and skips empty targets', async (t) => {
  const d = {
    panels: [
      { title: 'A', targets: [{ expr: 'up' }, { expr: ' ' }, {}] },
      { type: 'row', title: 'R', panels: [{ targets: [{ expr: 'b_total' }] }] },
      { title: 'no targets' }
    ]
  }
  t.same(dashboardQueries(d), [{ panel: 'A', expr: 'up' }, { panel: '(untitled)', expr: 'b_total' }])
  t.same(dashboardQueries({}), [])
})

t.test('metricNamesInVariableQuery', async (t) => {
  t.same(metricNamesInVariableQuery('label_values(up{job="sms-gateway", env="x"}, instance)'), ['up'])
  t.same(metricNamesInVariableQuery('label_values(sms_gateway_messages_total, client)'), ['sms_gateway_messages_total'])
  t.same(metricNamesInVariableQuery('query_result(topk(5, sum by (client) (rate(a_total[1h]))))'), ['a_total'])
  t.same(metricNamesInVariableQuery('label_names()'), [])
})
