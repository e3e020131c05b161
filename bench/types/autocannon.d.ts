/** The part of autocannon 8's API the benchmark uses (the package ships no types). */
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events'

  export interface RequestOptions {
    method?: string
    path?: string
    headers?: Record<string, string>
    body?: string
    setupRequest?: (request: { path: string, method?: string }, context: object) => { path: string, method?: string }
  }

  export interface Options {
    url: string
    connections?: number
    duration?: number
    amount?: number
    pipelining?: number
    overallRate?: number
    timeout?: number
    requests?: RequestOptions[]
    /** every answer's body; false counts it as a mismatch */
    verifyBody?: (body: string) => boolean
  }

  export interface Result {
    '2xx': number
    non2xx: number
    errors: number
    timeouts: number
    duration: number
  }

  export interface Instance extends EventEmitter, PromiseLike<Result> {
    stop (): void
  }

  export default function autocannon (options: Options): Instance
}
