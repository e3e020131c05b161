/** `count` distinct valid Polish mobile numbers, +48500000000 upwards. */
export function bulkRecipients (count: number): string[] {
  const first = 500_000_000
  return Array.from({ length: count }, (_, i) => `+48${first + i}`)
}
