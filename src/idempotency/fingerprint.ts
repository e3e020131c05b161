import { createHash } from 'node:crypto'

/** Key order does not change what a JSON body asks for, so it does not change its fingerprint. */
function writeCanonical (value: unknown, hash: ReturnType<typeof createHash>): void {
  if (Array.isArray(value)) {
    hash.update('[')
    value.forEach((item, index) => {
      if (index > 0) hash.update(',')
      writeCanonical(item, hash)
    })
    hash.update(']')
  } else if (value !== null && typeof value === 'object') {
    hash.update('{')
    Object.keys(value).sort().forEach((key, index) => {
      if (index > 0) hash.update(',')
      hash.update(JSON.stringify(key) + ':')
      writeCanonical((value as Record<string, unknown>)[key], hash)
    })
    hash.update('}')
  } else {
    hash.update(JSON.stringify(value) ?? 'null')
  }
}

/** A digest of what a request asks for: same method, route and body ⇒ same fingerprint. */
export function fingerprintRequest (method: string, route: string, body: unknown): string {
  const hash = createHash('sha256').update(`${method} ${route}\n`)
  writeCanonical(body, hash)
  return hash.digest('base64url')
}
