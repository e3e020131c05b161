import { setFlagsFromString } from 'node:v8'

/**
 * Keeps V8's young generation at its initial size while the gateway starts.
 *
 * Start-up allocates ~20 MB that mostly lives for good (modules, compiled schemas, routes), and
 * V8 grows the young generation whenever many objects survive its collections: by `/readyz` it
 * had doubled its way to two 8-MB semi-spaces, ~7 MiB of resident memory that an idle gateway
 * then kept (an idle process collects nothing, so V8 never shrinks it). Those survivors end up in
 * the old generation either way; the larger nursery only saved start-up some scavenges, ~30 ms
 * (bench/README.md, tenth round). Once the gateway listens, growth is switched back on, and
 * traffic grows it as before.
 *
 * V8 reads the growth factor each time it would grow the young generation, so it can change
 * while the process runs; `test/start-up-heap.test.ts` checks that this Node honours it.
 */

/** V8's default `--semi-space-growth-factor`: each growth doubles the young generation. */
const V8_DEFAULT_GROWTH_FACTOR = 2

const NO_GROWTH = 1

export function stopYoungGenerationGrowth (): void {
  setFlagsFromString(`--semi-space-growth-factor=${NO_GROWTH}`)
}

export function resumeYoungGenerationGrowth (): void {
  setFlagsFromString(`--semi-space-growth-factor=${V8_DEFAULT_GROWTH_FACTOR}`)
}
