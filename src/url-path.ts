/**
 * A request URL's path, without its query string: what may be logged or echoed back, as the query
 * carries delivery-report signatures and phone numbers. `indexOf` rather than `split('?')`, which
 * makes an array on every request (bench/README.md, sixteenth round).
 */
export function pathOf (url: string): string {
  const query = url.indexOf('?')
  return query === -1 ? url : url.slice(0, query)
}
