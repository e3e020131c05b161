/**
 * Prints a signed delivery-report URL without expiry, for accounts that set the push URL once
 * in the SerwerSMS panel instead of per request. Reads the gateway's whole configuration (it
 * exits 78 as the gateway would when that is incomplete); the URL needs PUBLIC_URL and DLR_SECRET.
 */
import { ConfigError, loadConfig } from '../config.js'
import { signDeliveryUrl } from '../dlr/signing.js'

try {
  const { publicUrl, secret } = loadConfig().deliveryReports
  if (publicUrl === undefined || secret === undefined) {
    throw new ConfigError('PUBLIC_URL and DLR_SECRET must be set to sign a delivery-report URL.')
  }
  process.stdout.write(`${signDeliveryUrl(publicUrl, secret, {})}\n`)
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  process.stderr.write(`${error.message}\n`)
  process.exitCode = 78
}
