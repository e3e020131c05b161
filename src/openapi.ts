import Fastify from 'fastify'
import app from './app.js'
import { loadConfig } from './config.js'
import { DOCS_PREFIX } from './plugins/swagger.js'
import { serverOptions } from './server-options.js'

/**
 * The deployment the checked-in document describes: no machine-specific values, and every
 * optional documented feature (the metrics token) switched on.
 */
const REFERENCE_ENVIRONMENT = {
  SERWERSMS_TOKEN: 'reference-upstream-token',
  API_KEYS: 'reference:reference-api-key-0123456789',
  METRICS_TOKEN: 'reference-metrics-token-0123456789',
  LOG_LEVEL: 'silent'
}

export interface OpenApiFiles {
  'openapi.json': string
  'openapi.yaml': string
}

/** The OpenAPI document exactly as a gateway with the reference configuration serves it at /docs/json and /docs/yaml. */
export async function renderOpenApiFiles (): Promise<OpenApiFiles> {
  const config = loadConfig(REFERENCE_ENVIRONMENT)
  const server = Fastify(serverOptions(config, { logger: false }))
  try {
    await server.register(app, { config })
    const json = await server.inject({ method: 'GET', url: `${DOCS_PREFIX}/json` })
    const yaml = await server.inject({ method: 'GET', url: `${DOCS_PREFIX}/yaml` })
    if (json.statusCode !== 200 || yaml.statusCode !== 200) {
      throw new Error(`the gateway did not serve its OpenAPI document: ${json.statusCode} ${json.body.slice(0, 200)}`)
    }
    return { 'openapi.json': `${JSON.stringify(json.json(), null, 2)}\n`, 'openapi.yaml': yaml.body }
  } finally {
    await server.close()
  }
}

export async function buildOpenApiDocument (): Promise<Record<string, unknown>> {
  return JSON.parse((await renderOpenApiFiles())['openapi.json']) as Record<string, unknown>
}
