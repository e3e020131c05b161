import { AjvCompiler, type ValidatorFactory } from '@fastify/ajv-compiler'
import type { AnyValidateFunction } from 'ajv/dist/core.js'

/**
 * A body with a list this long is checked for its first error only. With allErrors, Ajv makes one
 * error object per wrong item: a body limit's worth of numbers where strings belong (then ~430,000 of
 * them; ~520,000 now) held ~60 MB of heap for one request, and a few at once several hundred. A problem lists
 * 20 fields at most, so a long list loses nothing a caller would read but the other 19.
 */
export const LONGEST_LIST_FOR_EVERY_ERROR = 1000

/** Keywords with which Ajv may look into fields a schema's `properties` do not name. */
const LOOKS_BEYOND_PROPERTIES = ['patternProperties', 'unevaluatedProperties', 'dependentSchemas', 'allOf', 'anyOf', 'oneOf', 'if', 'not', '$ref']

/** Whether a value a schema takes may be a list: the schema says array, or does not say. */
function mayBeList (schema: unknown): boolean {
  if (typeof schema !== 'object' || schema === null) return schema !== false
  const { type, anyOf, oneOf } = schema as { type?: unknown, anyOf?: unknown, oneOf?: unknown }
  if (type !== undefined) return type === 'array' || (Array.isArray(type) && type.includes('array'))
  const forms = anyOf ?? oneOf
  return Array.isArray(forms) ? forms.some(mayBeList) : true
}

/**
 * The fields of a body a long list may be in, when its schema names every field it takes: of a
 * field it does not name (additionalProperties: false), Ajv reports the name and reads nothing of
 * the value. POST /sms's `to` and `uniqueId`. Undefined for a schema that may take others.
 */
export function listFields (schema: unknown): readonly string[] | undefined {
  if (typeof schema !== 'object' || schema === null) return undefined
  const { properties, additionalProperties } = schema as { properties?: unknown, additionalProperties?: unknown }
  if (additionalProperties !== false || typeof properties !== 'object' || properties === null) return undefined
  if (LOOKS_BEYOND_PROPERTIES.some((keyword) => Object.hasOwn(schema, keyword))) return undefined
  return Object.entries(properties).filter(([, field]) => mayBeList(field)).map(([name]) => name)
}

/**
 * Whether a body holds a list longer than LONGEST_LIST_FOR_EVERY_ERROR where Ajv would check it.
 * Where the schema names them, only the fields that may be lists are looked at, never every key:
 * going through an object of 800,000 unknown keys took 0.7 s, and V8 lists all of an object's keys
 * before a for…in reads the first. For another schema, an object with as many keys as a long list
 * counts as one, and no more of them are read.
 */
function hasLongList (data: unknown, fields: readonly string[] | undefined): boolean {
  if (typeof data !== 'object' || data === null) return false
  if (Array.isArray(data)) return data.length > LONGEST_LIST_FOR_EVERY_ERROR
  if (fields !== undefined) {
    for (let i = 0; i < fields.length; i++) {
      const value = (data as Record<string, unknown>)[fields[i] as string]
      if (Array.isArray(value) && value.length > LONGEST_LIST_FOR_EVERY_ERROR) return true
    }
    return false
  }
  let keys = 0
  for (const key in data) {
    if (++keys > LONGEST_LIST_FOR_EVERY_ERROR) return true
    const value = (data as Record<string, unknown>)[key]
    if (Array.isArray(value) && value.length > LONGEST_LIST_FOR_EVERY_ERROR) return true
  }
  return false
}

/**
 * fastify's own Ajv validators (every error of a body, as configured), except that a body with a
 * long list is checked by a twin that stops at its first error. The twin is compiled when a long
 * list first comes, so a gateway that never meets one never builds it.
 */
export function boundErrorsOfLongLists (buildValidator: ValidatorFactory = AjvCompiler()): ValidatorFactory {
  return (externalSchemas, options) => {
    const compileEveryError = buildValidator(externalSchemas, options)
    let compileFirstError: ReturnType<ValidatorFactory> | undefined
    return (route) => {
      const everyError = compileEveryError(route)
      if (route.httpPart !== 'body' || options?.customOptions?.allErrors !== true) return everyError
      let firstError: AnyValidateFunction | undefined
      const fields = listFields(route.schema)
      const validate = ((data: unknown) => {
        let chosen = everyError
        if (hasLongList(data, fields)) {
          // Ajv options (not JTD's: allErrors is set above), the same but for allErrors.
          compileFirstError ??= buildValidator(externalSchemas, { ...options, customOptions: { ...options.customOptions, allErrors: false } } as Parameters<ValidatorFactory>[1])
          chosen = firstError ??= compileFirstError(route)
        }
        const valid = chosen(data)
        validate.errors = chosen.errors
        return valid
      }) as AnyValidateFunction
      return validate
    }
  }
}
