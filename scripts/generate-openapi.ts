import { writeFile } from 'node:fs/promises'
import { renderOpenApiFiles } from '../src/openapi.js'

/** Writes openapi/openapi.{json,yaml} from the routes' schemas: `npm run openapi`. */
const directory = new URL('../openapi/', import.meta.url)
for (const [name, text] of Object.entries(await renderOpenApiFiles())) {
  await writeFile(new URL(name, directory), text)
  process.stdout.write(`wrote openapi/${name}\n`)
}
