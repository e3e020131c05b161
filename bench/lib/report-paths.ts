import { DeliveryUrlIssuer, ISSUED_TIME_RESOLUTION_MS } from '../../src/dlr/signing.js'
import { nextMessageId } from '../../src/simulator/message-id.js'

const REPORT_URL_TTL_MS = 24 * 3600_000
/** Signed URLs made ahead for `signEach`: far more than the gateway remembers (1,024), so none repeats in its memory. */
export const SEPARATELY_SIGNED_URLS = 50_000

export interface DeliveryReportSpec { publicUrl: string, secret: string, signEach?: boolean }

/**
 * Paths as SerwerSMS would call them: a URL the gateway signed, the placeholders filled in, a
 * message id never sent before. The ids are the simulator's (10 hex digits, as the provider's),
 * not a count from zero: every stretch is a load process of its own, and a count restarting in
 * each would repeat the warm-up's ids, which the gateway drops as duplicates (a cheaper path).
 */
export function deliveryReportPaths ({ publicUrl, secret, signEach = false }: DeliveryReportSpec): () => string {
  const now = Date.now()
  // The gateway's own issuer, so the URLs are signed as POST /sms signs them; one tenth of a
  // second apart, each is a URL of its own. Signed before the run, so the load generator spends
  // no CPU on HMACs while it measures.
  const issuer = new DeliveryUrlIssuer(publicUrl, secret, REPORT_URL_TTL_MS)
  const templates = Array.from({ length: signEach ? SEPARATELY_SIGNED_URLS : 1 }, (_, i) => {
    // Not through URL: the placeholders' '#' would start a fragment.
    const signed = issuer.urlFor(now - i * ISSUED_TIME_RESOLUTION_MS)
    return signed.slice(signed.indexOf('/', signed.indexOf('//') + 2))
      .replace('#STAN#', 'delivered')
      .replace('#DATA#', encodeURIComponent('2026-11-25 12:00:00'))
      .replace('#PRZYCZYNA#', '')
  })
  let next = 0
  return () => templates[next++ % templates.length]!.replace('#SMSID#', nextMessageId())
}
