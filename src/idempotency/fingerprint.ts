import { createHash, type Hash } from 'node:crypto'

/**
 * The canonical text is hashed in pieces of at least this many characters. A call to the hash per
 * token (two per recipient) made a 100,000-recipient body's fingerprint ~70 ms of one turn of the
 * event loop; pieces make the calls few. (A list of plain values is one piece, however long.)
 */
const HASHED_PIECE_CHARS = 16 * 1024

const isPrimitive = (value: unknown) => value === null || typeof value !== 'object'

/** Writes a value's canonical JSON to a hash, a piece at a time. */
class CanonicalWriter {
  #pending = ''
  constructor (readonly hash: Hash) {}

  write (value: unknown): void {
    if (Array.isArray(value) && value.every(isPrimitive)) {
      // What a long list of recipients or ids is: one native call spells it as the loop below would.
      this.#pending += JSON.stringify(value)
    } else if (Array.isArray(value)) {
      this.#pending += '['
      for (let index = 0; index < value.length; index++) {
        if (index > 0) this.#pending += ','
        this.write(value[index])
      }
      this.#pending += ']'
    } else if (value !== null && typeof value === 'object') {
      this.#pending += '{'
      Object.keys(value).sort().forEach((key, index) => {
        if (index > 0) this.#pending += ','
        this.#pending += JSON.stringify(key) + ':'
        this.write((value as Record<string, unknown>)[key])
      })
      this.#pending += '}'
    } else {
      this.#pending += JSON.stringify(value) ?? 'null'
    }
    if (this.#pending.length >= HASHED_PIECE_CHARS) this.flush()
  }

  flush (): void {
    this.hash.update(this.#pending)
    this.#pending = ''
  }
}

/**
 * A digest of what a request asks for: same method, route and body ⇒ same fingerprint. Key order
 * does not change what a JSON body asks for, so it does not change its fingerprint either: the
 * body is hashed as JSON with every object's keys sorted.
 */
export function fingerprintRequest (method: string, route: string, body: unknown): string {
  const writer = new CanonicalWriter(createHash('sha256').update(`${method} ${route}\n`))
  writer.write(body)
  writer.flush()
  return writer.hash.digest('base64url')
}
