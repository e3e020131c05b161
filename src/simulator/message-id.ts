import { randomInt } from 'node:crypto'

const HALF_BITS = 20
const HALF_SPACE = 2 ** HALF_BITS
const HALF_MASK = HALF_SPACE - 1
const ID_SPACE = HALF_SPACE * HALF_SPACE
const ID_HEX_DIGITS = 10
const ROUNDS = 4
const GOLDEN_RATIO_32 = 0x9e3779b1
const MIX_SHIFT = 12

const keys = Array.from({ length: ROUNDS }, () => randomInt(HALF_SPACE))
let counter = randomInt(2 ** 47) % ID_SPACE

/**
 * A message id like the provider's: 10 lowercase hex digits. A counter run through a Feistel
 * permutation of the 40-bit space, so ids look random yet never repeat within a process
 * (until 2^40 of them).
 */
export function nextMessageId (): string {
  counter = (counter + 1) % ID_SPACE
  let left = Math.floor(counter / HALF_SPACE)
  let right = counter & HALF_MASK
  for (const key of keys) {
    const mixed = (Math.imul(right ^ key, GOLDEN_RATIO_32) >>> MIX_SHIFT) & HALF_MASK
    const nextRight = left ^ mixed
    left = right
    right = nextRight
  }
  return (left * HALF_SPACE + right).toString(16).padStart(ID_HEX_DIGITS, '0')
}
