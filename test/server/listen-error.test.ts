import t from 'tap'
import { explainListenError, markMetricsListenError } from '../../src/listen-error.js'
import { testConfig } from '../helper.js'

t.test('a listen that fails for the configuration names the variable to change', async (t) => {
  const config = testConfig({ PORT: '80', METRICS_PORT: '9464', HOST: '10.9.8.7' })
  const failure = (code: string, port?: number) => Object.assign(new Error(`listen ${code}`), { code, syscall: 'listen', port })
  t.match(explainListenError(failure('EADDRINUSE', 80), config)?.message, /^PORT=80 cannot be listened on: another process already listens there \(HOST="10\.9\.8\.7"\)\. Stop that process, or set PORT to a free port\.$/)
  t.match(explainListenError(markMetricsListenError(failure('EADDRINUSE', 9464)), config)?.message, /^METRICS_PORT=9464 cannot be listened on: another process already listens there \(HOST="10\.9\.8\.7"\)\. Stop that process, or set METRICS_PORT to a free port\.$/)
  t.match(explainListenError(markMetricsListenError(failure('EACCES', 9464)), config)?.message, /^METRICS_PORT=9464 cannot be listened on: this user may not bind it .* Set METRICS_PORT to 1024 or above/)
  t.match(explainListenError(markMetricsListenError(failure('EADDRNOTAVAIL', 9464)), config)?.message, /^HOST="10\.9\.8\.7" cannot be listened on: .* Set HOST to/, 'the metrics listener binds HOST too, unless METRICS_HOST is set')
  t.match(explainListenError(failure('EACCES', 80), config)?.message, /^PORT=80 cannot be listened on: this user may not bind it \(ports below 1024 need root or CAP_NET_BIND_SERVICE\)\. Set PORT to 1024 or above/)
  t.match(explainListenError(failure('EADDRNOTAVAIL', 80), config)?.message, /^HOST="10\.9\.8\.7" cannot be listened on: it is not an address of this machine \(EADDRNOTAVAIL\)\. Set HOST to/)
  t.match(explainListenError(failure('EINVAL', 80), config)?.message, /^HOST="10\.9\.8\.7" cannot be listened on: the address cannot be bound as written \(EINVAL\)\. A link-local IPv6 address needs its interface \(e\.g\. fe80::1%eth0\)/)
  t.match(explainListenError(failure('ENOTFOUND'), config)?.message, /^HOST=.* the name does not resolve \(ENOTFOUND\)\. Set HOST to/)
  t.equal(explainListenError(failure('EMFILE', 80), config), undefined, 'not a configuration problem: left to fail as it does (exit 1, with its stack)')
  t.equal(explainListenError(new Error('something else'), config), undefined)
  t.equal(markMetricsListenError('not an object'), 'not an object', 'whatever was thrown is thrown on')
})

t.test('a listen of the METRICS_PORT listener that fails at METRICS_HOST names METRICS_HOST', async (t) => {
  const config = testConfig({ PORT: '8080', METRICS_PORT: '9464', HOST: '0.0.0.0', METRICS_HOST: 'metrics.internal' })
  const failure = (code: string, port?: number) => markMetricsListenError(Object.assign(new Error(`listen ${code}`), { code, syscall: 'listen', port }))
  // A name that does not resolve: the error has no port to tell the listeners apart by.
  t.match(explainListenError(failure('ENOTFOUND'), config)?.message, /^METRICS_HOST="metrics\.internal" cannot be listened on: the name does not resolve \(ENOTFOUND\)\. Set METRICS_HOST to an address/)
  t.match(explainListenError(failure('EADDRNOTAVAIL', 9464), config)?.message, /^METRICS_HOST="metrics\.internal" cannot be listened on: it is not an address of this machine \(EADDRNOTAVAIL\)\. Set METRICS_HOST to/)
  t.match(explainListenError(failure('EINVAL', 9464), config)?.message, /^METRICS_HOST=.* otherwise set METRICS_HOST to/)
  t.match(explainListenError(failure('EADDRINUSE', 9464), config)?.message, /^METRICS_PORT=9464 cannot be listened on: another process already listens there \(METRICS_HOST="metrics\.internal"\)/)
  // The main listener's failure names HOST, the metrics listener's settings aside.
  t.match(explainListenError(Object.assign(new Error('listen ENOTFOUND'), { code: 'ENOTFOUND' }), config)?.message, /^HOST="0\.0\.0\.0" cannot be listened on/)
})
