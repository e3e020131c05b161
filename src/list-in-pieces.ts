import { setImmediate as nextTurn } from 'node:timers/promises'
import type { FastifyReply } from 'fastify'

/**
 * Items serialised in one turn of the event loop: ~1–2 ms of a bulk answer's recipients. Whole,
 * 100,000 of them held the loop for ~0.3 s (most of it the young generation's collector copying
 * a string still growing), and every other caller with it.
 */
export const ITEMS_PER_PIECE = 1000

/**
 * A list's items in JSON, comma-separated and without the brackets, serialised a piece at a time
 * with a turn of the event loop between pieces. Each piece is flattened as it is made, so what it
 * was built of is garbage at once.
 */
export async function listItemsInPieces<T> (items: readonly T[], serializeItem: (item: T) => string, perPiece = ITEMS_PER_PIECE): Promise<string> {
  const pieces: string[] = []
  for (let start = 0; start < items.length; start += perPiece) {
    if (start > 0) await nextTurn()
    const piece = new Array<string>(Math.min(perPiece, items.length - start))
    for (let index = 0; index < piece.length; index++) piece[index] = serializeItem(items[start + index]!)
    pieces.push(piece.join(','))
  }
  return pieces.join(',')
}

/**
 * A document's JSON with `itemsJson` put into its one empty list under `key`. Undefined when the
 * spelling `"key":[]` is not there or more than once: it is only ever a key's and its empty value
 * (a quote within a string is escaped, and only a key is followed by a colon), but that key may be
 * at any depth, or be a longer one that ends so (`"a\"key"`). A document that has the list (as
 * serializeListInPieces makes sure) and another such spelling is therefore never guessed at.
 */
export function withListItems (documentJson: string, key: string, itemsJson: string): string | undefined {
  const emptyList = `${JSON.stringify(key)}:[]`
  const at = documentJson.indexOf(emptyList)
  if (at === -1 || documentJson.includes(emptyList, at + 1)) return undefined
  const inside = at + emptyList.length - 1
  return documentJson.slice(0, inside) + itemsJson + documentJson.slice(inside)
}

/**
 * Makes a long list of a reply's JSON a piece at a time, before the reply is sent; the reply's
 * serializer then puts it into the document fastify would have written — a result or a problem,
 * with the route's serializer for its status: the same bytes, without holding the event loop.
 * A document that does not carry this very list (another error met on the way), or whose status
 * has no schema, is serialised whole, as fastify would.
 */
export async function serializeListInPieces (reply: FastifyReply, key: string, list: readonly unknown[], itemSchema: object): Promise<void> {
  // fastify types a schema as a plain record, which TypeBox's interfaces are not declared as.
  const serializeItem = reply.compileSerializationSchema(itemSchema as Record<string, unknown>)
  const itemsJson = await listItemsInPieces(list as Array<Record<string, unknown>>, serializeItem)
  // A serializer of its own takes fastify's place, which then no longer names the type.
  reply.type('application/json; charset=utf-8')
  reply.serializer((document: Record<string, unknown> | string) => {
    // fastify hands a reply's own serializer a string too, which it would otherwise send as it is.
    if (typeof document === 'string') return document
    const serialize = schemaSerializerOf(reply)
    // Without one fastify writes JSON.stringify's spelling, whose items are not the schema's.
    if (serialize === undefined) return JSON.stringify(document)
    if (document[key] !== list) return serialize(document)
    return withListItems(serialize({ ...document, [key]: [] }), key, itemsJson) ?? serialize(document)
  })
}

/**
 * The route's serializer for the reply's status and type, as fastify picks it for a status it has
 * a schema of its own for ("2xx" and default schemas are not looked up: no route here gives them).
 */
function schemaSerializerOf (reply: FastifyReply): ((document: Record<string, unknown>) => string) | undefined {
  const mediaType = String(reply.getHeader('content-type')).split(';', 1)[0]!.trim()
  const status = String(reply.statusCode)
  const byType: unknown = reply.getSerializationFunction(status, mediaType)
  if (typeof byType === 'function') return byType as (document: Record<string, unknown>) => string
  // A status documented without types: its one serializer, not a map of them.
  const byStatus: unknown = reply.getSerializationFunction(status)
  return typeof byStatus === 'function' ? byStatus as (document: Record<string, unknown>) => string : undefined
}
