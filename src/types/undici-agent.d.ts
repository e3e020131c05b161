/**
 * undici's Agent on its own. The package's index also loads fetch, WebSocket, cookies, caches and
 * mocks, and touching the global File and Headers on the way pulls in Node's own copy of undici
 * too: ~50 ms and ~8 MB of a cold start that the gateway never uses (bench/README.md, start-up).
 * undici 7 has no "exports" map, so the file is importable; its type is the index's Agent.
 */
declare module 'undici/lib/dispatcher/agent.js' {
  import { Agent } from 'undici'
  export = Agent
}
