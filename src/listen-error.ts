import { ConfigError, type Config } from './config.js'

const kMetricsListener = Symbol('failed to listen on METRICS_PORT')

/**
 * Marks an error of the METRICS_PORT listener's listen, so that it is explained with its own
 * settings: a name that does not resolve says nothing of the port it was to be bound with.
 */
export function markMetricsListenError (error: unknown): unknown {
  if (typeof error === 'object' && error !== null) (error as { [kMetricsListener]?: true })[kMetricsListener] = true
  return error
}

/**
 * The configuration a failed listen points at (PORT or METRICS_PORT taken or privileged, HOST or
 * METRICS_HOST not an address of this machine, or one that needs its interface), as the boot error
 * to exit 78 with; undefined for any other failure.
 */
export function explainListenError (error: unknown, { server, metrics }: Config): ConfigError | undefined {
  const ofMetrics = (error as { [kMetricsListener]?: true })[kMetricsListener] === true
  const hostName = ofMetrics && metrics.host !== undefined ? 'METRICS_HOST' : 'HOST'
  return explainListen(error, {
    port: ofMetrics ? { name: 'METRICS_PORT', value: metrics.port } : { name: 'PORT', value: server.port },
    host: { name: hostName, value: hostName === 'HOST' ? server.host : metrics.host }
  })
}

/** A setting a listen was made with: its variable's name and value. */
interface ListenSetting<T> { name: string, value: T }

/** The boot error a failed listen made with these settings points at; undefined when it is not theirs. */
export function explainListen (error: unknown, { port: { name: portName, value: port }, host: { name: hostName, value: host } }: { port: ListenSetting<number | undefined>, host: ListenSetting<string | undefined> }): ConfigError | undefined {
  const { code } = error as NodeJS.ErrnoException
  const portSetting = `${portName}=${port}`
  const hostSetting = `${hostName}=${JSON.stringify(host)}`
  switch (code) {
    case 'EADDRINUSE':
      return new ConfigError(`${portSetting} cannot be listened on: another process already listens there (${hostSetting}). Stop that process, or set ${portName} to a free port.`)
    case 'EACCES':
      return new ConfigError(`${portSetting} cannot be listened on: this user may not bind it (ports below 1024 need root or CAP_NET_BIND_SERVICE). Set ${portName} to 1024 or above, and forward the port in front.`)
    case 'EADDRNOTAVAIL':
    case 'EAFNOSUPPORT':
      return new ConfigError(`${hostSetting} cannot be listened on: it is not an address of this machine (${code}). Set ${hostName} to one of its addresses, or to 0.0.0.0 for all of them.`)
    case 'EINVAL':
      // Linux's answer to a link-local IPv6 address without its interface (fe80::1): valid text, no bindable address.
      return new ConfigError(`${hostSetting} cannot be listened on: the address cannot be bound as written (EINVAL). A link-local IPv6 address needs its interface (e.g. fe80::1%eth0); otherwise set ${hostName} to one of this machine's addresses, or to 0.0.0.0 for all of them.`)
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
      return new ConfigError(`${hostSetting} cannot be listened on: the name does not resolve (${code}). Set ${hostName} to an address such as 0.0.0.0 or 127.0.0.1, or to a name that resolves to one of this machine's addresses.`)
    default:
      return undefined
  }
}
