import t from 'tap'
import { explainListenError } from '../../src/listen-error.js'
import { testConfig } from '../helper.js'

t.test('a listen that fails for the configuration names the variable to change', async (t) => {
  const config = testConfig({ PORT: '80', METRICS_PORT: '9464', HOST: '10.9.8.7' })
  const failure = (code: string, port?: number) => Object.assign(new Error(`listen ${code}`), { code, syscall: 'listen', port })
  t.match(explainListenError(failure('EADDRINUSE', 80), config)?.message, /^PORT=80 cannot be listened on: another process already listens there \(HOST="10\.9\.8\.7"\)\. Stop that process, or set PORT to a free port\.$/)
  t.match(explainListenError(failure('EADDRINUSE', 9464), config)?.message, /^METRICS_PORT=9464 cannot be listened on: .* set METRICS_PORT to a free port/)
  t.match(explainListenError(failure('EACCES', 80), config)?.message, /^PORT=80 cannot be listened on: this user may not bind it \(ports below 1024 need root or CAP_NET_BIND_SERVICE\)\. Set PORT to 1024 or above/)
  t.match(explainListenError(failure('EADDRNOTAVAIL', 80), config)?.message, /^HOST="10\.9\.8\.7" cannot be listened on: it is not an address of this machine \(EADDRNOTAVAIL\)\. Set HOST to/)
  t.match(explainListenError(failure('EINVAL', 80), config)?.message, /^HOST="10\.9\.8\.7" cannot be listened on: the address cannot be bound as written \(EINVAL\)\. A link-local IPv6 address needs its interface \(e\.g\. fe80::1%eth0\)/)
  t.match(explainListenError(failure('ENOTFOUND'), config)?.message, /^HOST=.* the name does not resolve \(ENOTFOUND\)\. Set HOST to/)
  t.equal(explainListenError(failure('EMFILE', 80), config), undefined, 'not a configuration problem: left to fail as it does (exit 1, with its stack)')
  t.equal(explainListenError(new Error('something else'), config), undefined)
})
