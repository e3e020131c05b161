import type { ServerResponse } from 'node:http'

/**
 * Settles once an answer is closed: written whole, or its connection gone, whichever came first
 * and whenever it came. Node emits 'close' on either (the pipelining plugin does on an answer its
 * closing connection had queued), but only once: an answer whose caller hung up before this is
 * asked is destroyed already.
 */
export async function whenAnswerClosed (response: ServerResponse): Promise<void> {
  if (response.destroyed) return
  await new Promise((resolve) => response.once('close', resolve))
}
