/**
 * What `node dist/server.js` runs: it stops the young generation from growing during start-up
 * (`start-up-heap.ts`), then loads the gateway (`server.ts`), which lets it grow again once it
 * listens. It is a module of its own so that the flag is set before the gateway's bundle is even
 * parsed: parsing alone grows the young generation once.
 */
import { stopYoungGenerationGrowth } from './start-up-heap.js'

stopYoungGenerationGrowth()
await import('./server.js')
