import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'
import { ProblemSchema } from '../schemas/problem.js'

export const OPENAPI_INFO = {
  title: 'sms-gateway',
  description: 'REST gateway in front of SerwerSMS.pl: send SMS with per-recipient results, receive delivery reports.',
  version: '0.1.0'
}

/** The OpenAPI document is generated from the routes' own schemas; it must be registered before them. */
export default fp(async function swaggerPlugin (app) {
  app.addSchema(ProblemSchema)
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: OPENAPI_INFO,
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'An API key from API_KEYS' },
          metricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN, when set' }
        }
      }
    }
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })
}, { name: 'swagger', fastify: '5.x' })
