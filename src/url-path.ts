import { shortened } from './shortened.js'

/**
 * A request URL's path, without its query string: what may be logged or echoed back, as the query
 * carries delivery-report signatures and phone numbers. `indexOf` rather than `split('?')`, which
 * makes an array on every request (bench/README.md, sixteenth round).
 */
export function pathOf (url: string): string {
  const query = url.indexOf('?')
  // The router (find-my-way) ends the path at a "#" too, and reads what follows as the query: a
  // raw "/dlr#sig=…" is routed with its signature, which must not be logged as its path either.
  const fragment = url.indexOf('#')
  const end = fragment !== -1 && (query === -1 || fragment < query) ? fragment : query
  return end === -1 ? url : url.slice(0, end)
}

/** Longer paths are cut in what is logged or echoed back: anyone may send a path of 16 KiB to a 404. */
const LONGEST_SHOWN_PATH = 200

/** A request URL's path as logged and quoted in answers: without its query, cut short when long. */
export function shownPath (url: string): string {
  return shortened(pathOf(url), LONGEST_SHOWN_PATH)
}
