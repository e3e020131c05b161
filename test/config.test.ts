import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ConfigError, loadConfig, loadSimulatorConfig, parseApiKeys, readEnvironment } from '../src/config.js'
import { testEnvironment } from './helper.js'

const load = (overrides: Record<string, string | undefined>) => loadConfig(testEnvironment(overrides))

t.test('defaults match the documented table', async (t) => {
  const config = loadConfig({ SERWERSMS_TOKEN: 'tok', API_KEYS: 'app:0123456789abcdef' })
  t.match(config, {
    server: { host: '0.0.0.0', port: 3000, shutdownGraceMs: 25_000 },
    logLevel: 'info',
    upstream: { apiUrl: 'https://api2.serwersms.pl/', timeoutMs: 15_000, defaultSender: undefined, auth: { kind: 'token', token: 'tok' }, simulator: { enabled: false } },
    defaultRegion: 'PL',
    auth: { disabled: false, apiKeys: [{ name: 'app', key: '0123456789abcdef' }] },
    deliveryReports: { publicUrl: undefined, urlTtlMs: 7 * 86_400_000, dedupWindowMs: 3_600_000 },
    rateLimit: { max: 600, windowMs: 60_000 },
    idempotency: { ttlMs: 86_400_000, maxKeys: 100_000 },
    sending: { batchSize: 100, upstreamConcurrency: 4, maxRecipients: 10_000, maxRecipientsInFlight: 100_000 },
    redisUrl: undefined
  })
})

t.test('values are converted and validated', async (t) => {
  const config = load({ PORT: '8080', SERWERSMS_API_URL: 'http://127.0.0.1:4010', RATE_LIMIT_WINDOW: '30000', IDEMPOTENCY_TTL: '2 hours', SERWERSMS_SIMULATOR: 'false', PUBLIC_URL: 'https://sms.example.com/', DLR_SECRET: 'x'.repeat(32) })
  t.equal(config.server.port, 8080)
  t.equal(config.upstream.apiUrl, 'http://127.0.0.1:4010/', 'a trailing slash is added so paths resolve below it')
  t.equal(config.rateLimit.windowMs, 30_000)
  t.equal(config.idempotency.ttlMs, 7_200_000)
  t.equal(load({ IDEMPOTENCY_TTL: '1.0000123 min' }).idempotency.ttlMs, 60_001, 'whole milliseconds (Redis refuses a fractional PX)')
  t.equal(config.deliveryReports.publicUrl, 'https://sms.example.com')
  t.equal(load({ PORT: '' }).server.port, 3000, 'an empty value counts as unset')
  t.equal(load({ DLR_URL_TTL: '366 days' }).deliveryReports.urlTtlMs, 366 * 86_400_000, 'a year, a leap one too, is the longest')
})

t.test('a bad value names the variable, the problem and the fix', async (t) => {
  const cases: Array<[Record<string, string | undefined>, RegExp]> = [
    [{ PORT: 'abc' }, /^PORT="abc" is invalid: .*Set it to TCP port/],
    [{ PORT: '70000' }, /PORT="70000" is invalid: must be <= 65535/],
    // Refused here, or the listen would fail later: a crash with exit 1 that does not name HOST.
    ...['localhost:3000', 'http://gateway', 'a b', '0.0.0.0:80'].map((host): [Record<string, string>, RegExp] =>
      [{ HOST: host }, /^HOST=".*" is invalid: has the wrong format\. Set it to address to listen on, without a port/]),
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL="loud" is invalid.*one of fatal, error/],
    [{ SERWERSMS_API_URL: 'ftp://x' }, /SERWERSMS_API_URL="ftp:\/\/x" is invalid: has the wrong format/],
    [{ SMS_BATCH_SIZE: '500' }, /SMS_BATCH_SIZE="500" is invalid: must be <= 200/],
    [{ SMS_MAX_RECIPIENTS: '100001' }, /SMS_MAX_RECIPIENTS/],
    [{ SMS_MAX_RECIPIENTS_IN_FLIGHT: '0' }, /^SMS_MAX_RECIPIENTS_IN_FLIGHT="0" is invalid: must be >= 1/],
    [{ SMS_MAX_RECIPIENTS: '20000', SMS_MAX_RECIPIENTS_IN_FLIGHT: '19999' }, /^SMS_MAX_RECIPIENTS_IN_FLIGHT=19999 is below SMS_MAX_RECIPIENTS=20000: a call with as many recipients as it may have would always be refused as busy\. Raise SMS_MAX_RECIPIENTS_IN_FLIGHT, or lower SMS_MAX_RECIPIENTS\.$/],
    [{ DLR_SECRET: 'short', PUBLIC_URL: 'https://x.example' }, /DLR_SECRET \(value hidden\) is invalid.*at least 32/],
    [{ PUBLIC_URL: 'https://x.example' }, /DLR_SECRET is missing: PUBLIC_URL is set/],
    ...['https://x.example/?a=b', 'https://x.example/#top', 'https://x.example/sms%20gw', 'https://x.example/a+b'].map((url): [Record<string, string>, RegExp] =>
      [{ PUBLIC_URL: url, DLR_SECRET: 'x'.repeat(32) }, /PUBLIC_URL must be a plain base URL, without a query, a fragment, "%" or "\+"/]),
    [{ SERWERSMS_TOKEN: undefined }, /SerwerSMS credentials are missing.*SERWERSMS_SIMULATOR=true/],
    [{ SERWERSMS_TOKEN: undefined, SERWERSMS_USERNAME: 'u' }, /SERWERSMS_PASSWORD is missing/],
    [{ API_KEYS: undefined }, /API_KEYS is missing.*AUTH_DISABLED=true/],
    [{ API_KEYS: 'nokey' }, /API_KEYS entry 1 has no valid name/],
    [{ API_KEYS: 'app:short' }, /entry 1 has a key shorter than 16/],
    [{ API_KEYS: 'ok:0123456789abcdef,anonymous:0123456789abcdeg' }, /^API_KEYS entry 2 is named "anonymous", the name the log and metrics give callers without a key\. Give the client another name\.$/],
    [{ API_KEYS: 'a:0123456789abcdef,b:0123456789abcdef' }, /entry 2 has a key another client already has/],
    // Written key:name: what is before the colon is the key, and is not echoed.
    [{ API_KEYS: 'ok:0123456789abcdef,9f3c2a71d0b84e6f5a1c:billing' }, /^API_KEYS entry 2 has a key shorter than 16 characters/],
    [{ RATE_LIMIT_WINDOW: 'soon' }, /RATE_LIMIT_WINDOW="soon" is invalid: not a duration/],
    [{ IDEMPOTENCY_TTL: '0.4ms' }, /IDEMPOTENCY_TTL="0.4ms" is invalid: not a duration/],
    [{ DLR_URL_TTL: '7' }, /^DLR_URL_TTL="7" is invalid: 7 ms is shorter than 1 minute \(a number alone is milliseconds\)\. Set it to a duration with its unit, such as "7 days"\.$/],
    [{ IDEMPOTENCY_TTL: '24' }, /IDEMPOTENCY_TTL="24" is invalid: 24 ms is shorter than 1 minute/],
    [{ DLR_URL_TTL: '9006000000000000' }, /^DLR_URL_TTL="9006000000000000" is invalid: 9006000000000000 ms is longer than a year, the most any duration may be\. Set it to a duration such as "7 days"\.$/],
    [{ IDEMPOTENCY_TTL: '367 days' }, /^IDEMPOTENCY_TTL="367 days" is invalid: \d+ ms is longer than a year/],
    [{ IDEMPOTENCY_TTL: '59 seconds' }, /IDEMPOTENCY_TTL="59 seconds" is invalid: 59000 ms is shorter than 1 minute/],
    [{ RATE_LIMIT_WINDOW: '60' }, /RATE_LIMIT_WINDOW="60" is invalid: 60 ms is shorter than 1 second/],
    [{ DLR_DEDUP_WINDOW: '500ms' }, /DLR_DEDUP_WINDOW="500ms" is invalid: 500 ms is shorter than 1 second/],
    [{ DEFAULT_REGION: 'XX' }, /DEFAULT_REGION="XX" is invalid: not a country/],
    [{ SERWERSMS_TIME_ZONE: 'Poland/Warsaw' }, /SERWERSMS_TIME_ZONE="Poland\/Warsaw" is invalid: not an IANA time zone/],
    [{ METRICS_HOST: '127.0.0.1' }, /^METRICS_HOST="127\.0\.0\.1" is set without METRICS_PORT: \/metrics is then served on PORT, at HOST, and METRICS_HOST would bind nothing\. Set METRICS_PORT too, or unset METRICS_HOST\.$/],
    [{ METRICS_PORT: '9464', METRICS_HOST: '127.0.0.1:9464' }, /^METRICS_HOST="127\.0\.0\.1:9464" is invalid: has the wrong format\. Set it to address the METRICS_PORT listener binds/],
    [{ METRICS_PORT: '9464', METRICS_HOST: '10.0.0.256' }, /^METRICS_HOST="10\.0\.0\.256" is invalid: it is not an IPv4 address\./],
    [{ PORT: '8080', METRICS_PORT: '8080' }, /^METRICS_PORT=8080 is the port the API listens on \(PORT\), and METRICS_HOST is unset, so both listeners would bind it at HOST\. Set METRICS_PORT to another port, or unset it to serve \/metrics on PORT\.$/],
    // One port at two addresses is refused only where the two may be one: the wildcard, a name, one address spelled twice.
    [{ PORT: '8080', METRICS_PORT: '8080', HOST: '0.0.0.0', METRICS_HOST: '127.0.0.1' }, /^METRICS_PORT=8080 is the port the API listens on \(PORT\), and HOST="0\.0\.0\.0" binds it on every address of this machine: the two listeners cannot both bind it\. Set METRICS_PORT to another port/],
    [{ PORT: '8080', METRICS_PORT: '8080', HOST: '10.0.0.5', METRICS_HOST: '0:0:0:0:0:0:0:0' }, /and METRICS_HOST="0:0:0:0:0:0:0:0" binds it on every address of this machine/],
    [{ PORT: '8080', METRICS_PORT: '8080', HOST: '10.0.0.5', METRICS_HOST: 'metrics.internal' }, /and METRICS_HOST="metrics\.internal" is a name, not an IP address: the two listeners may bind one address\./],
    [{ PORT: '8080', METRICS_PORT: '8080', HOST: 'gateway', METRICS_HOST: '10.0.0.5' }, /and HOST="gateway" is a name, not an IP address/],
    [{ PORT: '8080', METRICS_PORT: '8080', HOST: '::1', METRICS_HOST: '0:0::1' }, /^METRICS_PORT=8080 is the port the API listens on \(PORT\), at the same address \(HOST="::1", METRICS_HOST="0:0::1"\): both listeners cannot bind it\./],
    [{ PORT: '8080', METRICS_PORT: '8080', HOST: '10.0.0.5', METRICS_HOST: '::ffff:10.0.0.5' }, /at the same address \(HOST="10\.0\.0\.5", METRICS_HOST="::ffff:10\.0\.0\.5"\)/],
    [{ SERWERSMS_SENDER: 'much too long name' }, /SERWERSMS_SENDER/],
    // Ajv's coercion alone would read these as JavaScript does: 8080, 8000, 8080 and no bound at all.
    [{ PORT: '0x1F90' }, /^PORT="0x1F90" is invalid: it is not a whole number of at most 15 decimal digits\. Set it to /],
    [{ PORT: '8e3' }, /^PORT="8e3" is invalid: it is not a whole number of at most 15 decimal digits/],
    [{ PORT: '8080.0' }, /^PORT="8080\.0" is invalid: it is not a whole number/],
    [{ SMS_BATCH_SIZE: 'Infinity', PORT: '0b11' }, /^PORT="0b11" is invalid: it is not a whole number of at most 15 decimal digits\. Set it to .*\nSMS_BATCH_SIZE="Infinity" is invalid: it is not a whole number/],
    [{ PORT: '-1' }, /^PORT="-1" is invalid: must be >= 0\. Set it to TCP port/],
    [{ RATE_LIMIT_MAX: '9'.repeat(400) }, /^RATE_LIMIT_MAX="9{400}" is invalid: it is not a whole number of at most 15 decimal digits/],
    [{ RATE_LIMIT_MAX: '9'.repeat(16) }, /^RATE_LIMIT_MAX="9{16}" is invalid: it is not a whole number of at most 15/],
    [{ REDIS_URL: 'localhost:6379' }, /REDIS_URL/],
    [{ PUBLIC_URL: 'https://sms.example.com/dlr/', DLR_SECRET: 'x'.repeat(32) }, /^PUBLIC_URL ends in \/dlr: .*Set it without \/dlr\.$/],
    // ioredis would throw on these when the client is made: a crash, with the password in the log.
    [{ REDIS_URL: 'redis://:S3cretPw@redis:port' }, /^REDIS_URL is not a valid URL \(its value is not shown/],
    [{ REDIS_URL: 'redis://:ab%zz@redis:6379' }, /^REDIS_URL is not a valid URL/],
    [{ REDIS_URL: 'redis://' }, /^REDIS_URL names no host/],
    // The provider itself (the default SERWERSMS_API_URL) with a key or secret this repository prints.
    [{ API_KEYS: 'ok:0123456789abcdef,demo:dev-api-key-change-me' }, /^API_KEYS entry 2 has a key published in this repository .*SERWERSMS_API_URL is SerwerSMS itself/],
    [{ API_KEYS: 'demo:demo-key-0123456789abcdef', SERWERSMS_API_URL: 'https://API2.SerwerSMS.pl/' }, /API_KEYS entry 1 has a key published/],
    [{ AUTH_DISABLED: 'true' }, /^AUTH_DISABLED=true, and SERWERSMS_API_URL is SerwerSMS itself: anyone who can reach the gateway could send billed SMS\. Set API_KEYS=/],
    [{ PUBLIC_URL: 'https://sms.example.com', DLR_SECRET: 'dev-only-dlr-secret-change-me-0123456789abcdef' }, /^DLR_SECRET is the one docker-compose\.yml publishes.*\(openssl rand -base64 48\)\.$/],
    [{ PUBLIC_URL: '', DLR_SECRET: 'dev-only-dlr-secret-change-me-0123456789abcdef' }, /^DLR_SECRET is the one docker-compose\.yml publishes.*, or set it empty \(DLR_SECRET=\) too, as PUBLIC_URL is, to take no delivery reports\.$/],
    // The compose simulator's credentials, sent to SerwerSMS, would fail every send (502).
    [{ SERWERSMS_TOKEN: 'dev-simulator-token' }, /^SERWERSMS_TOKEN is the token docker-compose\.yml published for its simulator, and SERWERSMS_API_URL is SerwerSMS itself: it would refuse every send\. Set SERWERSMS_TOKEN to the token from your SerwerSMS panel/],
    [{ SERWERSMS_TOKEN: undefined, SERWERSMS_USERNAME: 'shop', SERWERSMS_PASSWORD: 'dev-simulator-password' }, /^SERWERSMS_PASSWORD is the simulator's password docker-compose\.yml publishes.*Set SERWERSMS_USERNAME and SERWERSMS_PASSWORD to your SerwerSMS API user/],
    // Only SERWERSMS_PASSWORD set in compose's .env: the compose user with the operator's password.
    [{ SERWERSMS_TOKEN: undefined, SERWERSMS_USERNAME: 'compose-simulator', SERWERSMS_PASSWORD: 'real-password' }, /^SERWERSMS_USERNAME="compose-simulator" is the simulator's API user docker-compose\.yml publishes, and SERWERSMS_API_URL is SerwerSMS itself: it would refuse every send\. Set SERWERSMS_USERNAME to your SerwerSMS API user/],
    // The provider's host written fully qualified is still the provider.
    [{ SERWERSMS_TOKEN: 'dev-simulator-token', SERWERSMS_API_URL: 'https://api2.serwersms.pl./' }, /^SERWERSMS_TOKEN is the token docker-compose\.yml published/],
    [{ API_KEYS: 'demo:dev-api-key-change-me', SERWERSMS_API_URL: 'https://API2.SERWERSMS.PL.' }, /^API_KEYS entry 1 has a key published/],
    [{ PUBLIC_URL: 'http://gateway:3000', DLR_SECRET: 'x'.repeat(32), SERWERSMS_API_URL: 'https://api2.serwersms.pl./' }, /^PUBLIC_URL="http:\/\/gateway:3000" is invalid/],
    // SerwerSMS pushes delivery reports from the internet: a PUBLIC_URL it cannot reach loses every one.
    ...[
      ['http://gateway:3000', 'is a name of one label'], ['http://gateway.:3000', 'is a name of one label'], ['http://localhost:3000', 'is this machine'],
      ['http://sms.localhost', 'is this machine'],
      ...['http://printer.local', 'http://host.docker.internal:3000', 'http://gw.corp.internal', 'http://box.lan', 'http://gw.home.arpa', 'http://sms.localdomain', 'http://SMS.LAN.']
        .map((url) => [url, 'is a name under \\.(local|internal|lan|home\\.arpa|localdomain), which only a local network resolves']),
      ...['http://0.0.0.0', 'http://[::]:3000', 'http://[::ffff:0.0.0.0]'].map((url) => [url, 'is an unspecified address']),
      ...['http://127.0.0.1:3000', 'http://10.0.0.5', 'http://100.64.1.1', 'http://172.20.1.1', 'http://192.168.1.10', 'http://169.254.169.254',
        'http://[::1]:3000', 'http://[fd00::1]', 'http://[fe80::1]', 'http://[fec0::1]', 'http://[::ffff:10.0.0.1]'].map((url) => [url, 'is a loopback, private or link-local address']),
      ...['http://224.0.0.1', 'http://239.255.255.250', 'http://255.255.255.255', 'http://[ff02::1]', 'http://[ff0e::1]'].map((url) => [url, 'is a multicast or broadcast address']),
      ...['http://0.1.2.3', 'http://192.0.0.8', 'http://198.18.0.1', 'http://198.19.255.254', 'http://240.0.0.1', 'http://254.1.2.3', 'http://[::8.8.8.8]', 'http://[::203.0.113.7]:8443']
        .map((url) => [url, 'is a reserved address that the internet does not route']),
      ...['http://[64:ff9b::c000:201]', 'http://[64:ff9b:1::a00:1]:8443'].map((url) => [url, 'is a NAT64 address, which only this network\'s translator reaches'])
    ].map(([url, reason]): [Record<string, string>, RegExp] =>
      [{ PUBLIC_URL: url!, DLR_SECRET: 'x'.repeat(32) }, new RegExp(`^PUBLIC_URL=".*" is invalid: SERWERSMS_API_URL is SerwerSMS itself, which pushes delivery reports to PUBLIC_URL from the internet, and \\S+ ${reason}.*: every report would be lost\\. Set it to the public base URL at which SerwerSMS reaches this gateway, e\\.g\\. https://sms\\.example\\.com, or set it empty \\(PUBLIC_URL=, and DLR_SECRET= unless the SerwerSMS panel holds a report URL from npm run dlr-url\\) to send without delivery reports\\.$`)]),
    [{ API_KEYS: 'billing: change-me-0123456789' }, /entry 1 has whitespace in its key .*no caller could present it/],
    [{ API_KEYS: 'billing:change me 0123456789' }, /entry 1 has whitespace in its key/],
    [{ API_KEYS: 'pl:klucz-żółć-0123456789' }, /entry 1 has a character outside printable ASCII in its key; no caller could present it/],
    [{ METRICS_TOKEN: 'metrics token 0123456789' }, /^METRICS_TOKEN \(value hidden\) is invalid: has the wrong format\. Set it to bearer token required on \/metrics, at least 16 printable ASCII characters without spaces/],
    [{ METRICS_TOKEN: 'żółć-0123456789abcdef' }, /^METRICS_TOKEN \(value hidden\) is invalid/],
    [{ REDIS_URL: 'redis://:S3cretPw@redis:6379/abc' }, /^REDIS_URL names a database that is not a number \(its value is not shown\)/],
    ...['0.0.0.0.0', '999.1.1.1', '123'].map((host): [Record<string, string>, RegExp] =>
      [{ HOST: host }, /^HOST=".*" is invalid: it is not an IPv4 address\. Set it to address to listen on, without a port/])
  ]
  for (const [overrides, message] of cases) {
    const error = t.throws(() => load(overrides), { name: 'ConfigError', message }, JSON.stringify(overrides)) as Error
    if (overrides.REDIS_URL !== undefined) t.notMatch(error.message, /S3cretPw|ab%zz/, 'the URL, which may hold a password, is not echoed')
    if (overrides.API_KEYS !== undefined) t.notMatch(error.message, /9f3c2a71d0b84e6f5a1c|0123456789abcde/, 'no key is echoed, one written where its name belongs neither')
  }
  for (const host of ['0.0.0.0', '127.0.0.1', '::', '::1', 'fe80::1%eth0', 'gateway', 'my_service.internal', 'gw-1.svc']) t.equal(load({ HOST: host }).server.host, host, `HOST=${host} is taken`)
  t.equal(load({ METRICS_PORT: '9464', METRICS_HOST: '10.1.2.3' }).metrics.host, '10.1.2.3', 'METRICS_HOST is taken')
  t.equal(load({ METRICS_PORT: '9464' }).metrics.host, undefined, 'unset: the METRICS_PORT listener binds HOST')
  for (const [host, metricsHost] of [['10.0.0.5', '127.0.0.1'], ['::1', '127.0.0.1'], ['fe80::1%eth0', 'fe80::1%eth1'], ['fd00::1', '::ffff:10.0.0.5']]) {
    t.equal(load({ PORT: '8080', METRICS_PORT: '8080', HOST: host!, METRICS_HOST: metricsHost! }).metrics.port, 8080, `one port at two addresses (${host}, ${metricsHost}) is taken`)
  }
  for (const url of ['redis://redis', 'redis://redis:6379/', 'redis://:pw@redis:6379/3', 'rediss://redis/15']) t.equal(load({ REDIS_URL: url }).redisUrl, url, `REDIS_URL=${url} is taken`)
  t.equal(load({ METRICS_TOKEN: 'm3tr!cs-T0ken_0123' }).metrics.token, 'm3tr!cs-T0ken_0123', 'ASCII punctuation in a token is fine')
  // The published demo keys and secret are fine in front of a simulator, as the quickstart and compose use them.
  const published = { API_KEYS: 'demo:dev-api-key-change-me', PUBLIC_URL: 'http://gateway:3000', DLR_SECRET: 'dev-only-dlr-secret-change-me-0123456789abcdef' }
  t.equal(load({ ...published, SERWERSMS_API_URL: 'http://simulator:4010/' }).auth.apiKeys[0]?.key, 'dev-api-key-change-me')
  t.equal(load({ ...published, SERWERSMS_SIMULATOR: 'true' }).auth.apiKeys[0]?.key, 'dev-api-key-change-me')
  t.equal(load({ AUTH_DISABLED: 'true', SERWERSMS_API_URL: 'http://simulator:4010/' }).auth.disabled, true, 'no keys at all, in front of a simulator')
  t.same(load({ SERWERSMS_TOKEN: 'dev-simulator-token', SERWERSMS_API_URL: 'http://simulator:4010/' }).upstream.auth, { kind: 'token', token: 'dev-simulator-token' }, 'the simulator\'s token, in front of a simulator')
  t.same(load({ SERWERSMS_TOKEN: 'real-token', SERWERSMS_USERNAME: 'compose-simulator', SERWERSMS_PASSWORD: 'dev-simulator-password' }).upstream.auth, { kind: 'token', token: 'real-token' }, 'compose\'s default user beside a token of the operator\'s own: not sent, not refused')
  t.equal(load({ PUBLIC_URL: '', DLR_SECRET: 'x'.repeat(32) }).deliveryReports.publicUrl, undefined, 'an empty PUBLIC_URL in front of SerwerSMS: sends without delivery reports, as the refusal says')
  t.same(load({ SERWERSMS_TOKEN: undefined, SERWERSMS_USERNAME: 'compose-simulator', SERWERSMS_PASSWORD: 'dev-simulator-password', SERWERSMS_API_URL: 'http://simulator:4010/' }).upstream.auth,
    { kind: 'user', username: 'compose-simulator', password: 'dev-simulator-password' }, 'compose\'s simulator user, in front of its simulator')
  for (const url of ['https://sms.example.com', 'https://sms.example.com:8443', 'http://203.0.113.7:8080', 'https://172.32.0.1', 'http://198.20.0.1', 'http://192.0.2.1', 'http://223.255.255.254',
    'http://[2001:db8::1]', 'http://[2001:4860:4860::8888]', 'http://[::ffff:203.0.113.7]', 'https://sms.example.com.', 'https://local.example.com', 'https://internal.example.com', 'https://sms.example.lan.example.org']) {
    t.equal(load({ PUBLIC_URL: url, DLR_SECRET: 'x'.repeat(32) }).deliveryReports.publicUrl, url, `PUBLIC_URL=${url} is taken in front of SerwerSMS`)
  }
  t.equal(load({ REDIS_URL: 'rediss://:p%40ss@redis.internal:6380/2' }).redisUrl, 'rediss://:p%40ss@redis.internal:6380/2', 'a valid URL is taken as written')
  const several = t.throws(() => load({ PORT: 'x', HOST: '', SMS_BATCH_SIZE: '0' })) as ConfigError
  t.match(several.message, /PORT=.*\n.*SMS_BATCH_SIZE=/, 'every bad variable is listed at once')
})

t.test('the simulator and disabled auth are explicit choices', async (t) => {
  const config = load({ SERWERSMS_TOKEN: undefined, SERWERSMS_SIMULATOR: 'true', API_KEYS: undefined, AUTH_DISABLED: 'true' })
  t.equal(config.upstream.simulator.enabled, true)
  t.equal(config.upstream.auth, undefined)
  t.equal(config.auth.disabled, true)
  t.throws(() => load({ SERWERSMS_SIMULATOR: 'yes please' }), /SERWERSMS_SIMULATOR/)
})

t.test('API keys parse with spaces and empty entries', async (t) => {
  t.same(parseApiKeys(' billing:0123456789abcdef , ,shop.v2:abcdefabcdefabcdef:x '), [
    { name: 'billing', key: '0123456789abcdef' },
    { name: 'shop.v2', key: 'abcdefabcdefabcdef:x' }
  ])
})

t.test('a dotenv file fills in what the environment leaves unset', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sms-gateway-env-'))
  const file = join(dir, '.env')
  writeFileSync(file, 'PORT=4321\nLOG_LEVEL=debug\n# a comment\nHOST="127.0.0.1"\n')
  const saved = { ...process.env }
  t.teardown(() => { process.env = saved })
  process.env.ENV_FILE = file
  process.env.LOG_LEVEL = 'warn'
  const env = readEnvironment()
  t.equal(env.PORT, '4321')
  t.equal(env.HOST, '127.0.0.1')
  t.equal(env.LOG_LEVEL, 'warn', 'the real environment wins')
  process.env.ENV_FILE = join(dir, 'missing.env')
  t.throws(() => readEnvironment(), { name: 'ConfigError', message: /^ENV_FILE=".*missing\.env" is invalid: it cannot be read \(ENOENT\)\. Set it to a dotenv file this user can read, or to \/dev\/null to read none\.$/ },
    'a file ENV_FILE names and that is not there stops the start (exit 78): its settings would be left out unnoticed')
  process.env.ENV_FILE = '/dev/null'
  t.equal(readEnvironment().PORT, saved.PORT, '/dev/null: no file')
  process.env.ENV_FILE = dir
  t.throws(() => readEnvironment(), { name: 'ConfigError', message: /^ENV_FILE=".*" is invalid: it cannot be read \(EISDIR\)\. Set it to/ }, 'one that cannot be read stops the start (exit 78), naming ENV_FILE')
})

t.test('a dotenv file with a byte-order mark is read; a variable Node\'s parser would lose stops the start, named with its line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sms-gateway-env-'))
  const file = join(dir, '.env')
  const saved = { ...process.env }
  t.teardown(() => { process.env = saved })
  delete process.env.LOG_LEVEL
  delete process.env.PORT
  process.env.ENV_FILE = file
  writeFileSync(file, '\uFEFFPORT=4321\nLOG_LEVEL=warn\n')
  t.equal(readEnvironment().PORT, '4321', 'the first variable, behind the mark Windows editors write')
  const cases: Array<[string, RegExp]> = [
    ['PORT=4321\nS3cr3t-pasted-alone\nLOG_LEVEL=warn\n', /LOG_LEVEL on line 3 would not be set: the line before it is not NAME=value \(nor empty, nor a # comment\), and is read as the start of its name\./],
    ['PORT=4321\n\nLOG_LEVEL=warn\n  \nREDIS_URL=redis://r\n', /REDIS_URL on line 5 would not be set: the line before it holds only spaces or tabs, which is read as the start of its name\./],
    ['PORT=4321\n\tREDIS_URL=redis://r\n', /REDIS_URL on line 2 would not be set: it is indented with a tab, which is read as part of its name\./],
    ['PORT=4321\n \u00a0REDIS_URL=redis://r\n', /REDIS_URL on line 2 would not be set: it is indented with a no-break space \(U\+00A0\), which is read as part of its name\./],
    ['PORT=4321\nREDIS_URL\t=redis://r\n', /REDIS_URL on line 2 would not be set: a tab stands between its name and "=", and is read as part of its name\./],
    ['PORT=4321\nREDIS_URL\u2003=redis://r\n', /REDIS_URL on line 2 would not be set: the character U\+2003 stands between its name and "="/],
    ['PORT=4321\nREDIS URL=redis://r\n', /REDIS URL on line 2 would not be set: its name holds a space, and no variable's name has one\./]
  ]
  for (const [text, message] of cases) {
    writeFileSync(file, text)
    const error = t.throws(() => readEnvironment()) as ConfigError
    t.match(error, { name: 'ConfigError', message: /^ENV_FILE=".*" is invalid: / })
    t.match(error.message, message)
    t.match(error.message, /Fix or remove that line, or start it with # to keep it as a comment\.$/)
    t.notMatch(error.message, /S3cr3t/, 'the stray line\'s text is not shown: it may be a secret')
  }
  writeFileSync(file, 'PORT=4321\nMY-VAR=1\n')
  t.equal(readEnvironment().PORT, '4321', 'a name that is no variable of the gateway\'s loses nothing: left alone')

  // A stray line with no NAME=value after it: the parser drops it without a word.
  const strays: Array<[string, RegExp]> = [
    ['LOG_LEVEL=info\nREDIS_URL redis://127.0.0.1:6379/0\n', /^ENV_FILE=".*" is invalid: line 2 \(REDIS_URL, without "="\) is not NAME=value \(nor empty, nor a # comment\), and nothing on it would be set\. Write it as NAME=value, or start it with # to keep it as a comment\.$/],
    ['LOG_LEVEL=info\nREDIS_URL: redis://127.0.0.1:6379/0\n# a comment\n', /line 2 \(REDIS_URL, without "="\)/],
    ['PORT=4321\nS3cr3t-pasted-alone', /line 2 is not NAME=value/]
  ]
  for (const [text, message] of strays) {
    writeFileSync(file, text)
    const error = t.throws(() => readEnvironment(), { name: 'ConfigError', message }) as Error
    t.notMatch(error.message, /S3cr3t|127\.0\.0\.1/, 'the line\'s text is not shown')
  }
  writeFileSync(file, 'PORT=4321\nAPI_KEYS="billing:key-one-0123456789abcdef\nshop key two"\n')
  t.equal(readEnvironment().PORT, '4321', 'a quoted value over several lines is no stray line')
})

t.test('only the default dotenv file may be missing', async (t) => {
  const saved = { ...process.env }
  const cwd = process.cwd()
  t.teardown(() => {
    process.env = saved
    process.chdir(cwd)
  })
  delete process.env.ENV_FILE
  process.chdir(mkdtempSync(join(tmpdir(), 'sms-gateway-no-env-')))
  t.equal(readEnvironment().PORT, saved.PORT, 'no .env here, none named: the environment alone')
  mkdirSync('.env')
  t.throws(() => readEnvironment(), { name: 'ConfigError', message: /^ENV_FILE="\.env" is invalid: it cannot be read \(EISDIR\)\. .*or remove what is at that path\.$/ }, 'a .env that is there must be readable')
})

t.test('simulator settings', async (t) => {
  t.match(loadSimulatorConfig({}), { host: '127.0.0.1', port: 4010, latencyMs: 0, deliveryReportDelayMs: 1000, deliveryReports: true, logLevel: 'info' })
  t.match(loadSimulatorConfig({ SIMULATOR_PORT: '5000', SIMULATOR_TOKEN: 'tok', SIMULATOR_DLR: 'false' }), { port: 5000, token: 'tok', deliveryReports: false })
  t.throws(() => loadSimulatorConfig({ SIMULATOR_LATENCY_MS: '-1' }), /SIMULATOR_LATENCY_MS/)
  t.equal(loadSimulatorConfig({}).timeZone, 'Europe/Warsaw')
  t.equal(loadSimulatorConfig({ SERWERSMS_TIME_ZONE: 'UTC' }).timeZone, 'UTC', 'the gateway\'s own variable')
  t.throws(() => loadSimulatorConfig({ SERWERSMS_TIME_ZONE: 'Mars/Olympus' }), /^SERWERSMS_TIME_ZONE="Mars\/Olympus" is invalid: not an IANA time zone/)
})

t.test('the default time zone is taken without loading ICU\'s zone data (8 MB of idle memory)', async (t) => {
  const Original = Intl.DateTimeFormat
  let built = 0
  Intl.DateTimeFormat = function (...args: ConstructorParameters<typeof Intl.DateTimeFormat>) {
    built++
    return new Original(...args)
  } as unknown as typeof Intl.DateTimeFormat
  t.teardown(() => { Intl.DateTimeFormat = Original })
  t.equal(loadConfig(testEnvironment()).upstream.timeZone, 'Europe/Warsaw')
  t.equal(built, 0, 'no formatter built for the default')
  t.equal(loadConfig(testEnvironment({ SERWERSMS_TIME_ZONE: 'Etc/UTC' })).upstream.timeZone, 'UTC', 'another zone is checked, and kept as Intl names it')
  t.equal(built, 1)
})
