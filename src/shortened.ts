/**
 * Text a caller sent, cut to `maxLength` characters with "…" when longer: what the gateway quotes
 * back or logs of it names it without copying it (a key, a path or a header may run to kilobytes).
 */
export function shortened (text: string, maxLength: number): string {
  return text.length > maxLength ? `${text.slice(0, maxLength)}…` : text
}

/** The most of a caller's header value an answer or a log line quotes. */
export const LONGEST_SHOWN_HEADER = 100
