/**
 * How many times a header came, from the raw list Node keeps. Node folds repeats out of sight:
 * it keeps the first Authorization and joins repeated unknown headers with ", " — so two
 * Idempotency-Keys would read as one new key, and a second Authorization would go unseen.
 */
export function headerCount (rawHeaders: readonly string[], lowerCaseName: string): number {
  let count = 0
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!
    if (name.length === lowerCaseName.length && name.toLowerCase() === lowerCaseName) count++
  }
  return count
}
