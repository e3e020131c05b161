import { AjvCompiler, type ValidatorFactory } from '@fastify/ajv-compiler'
import type { AnyValidateFunction } from 'ajv/dist/core.js'

/**
 * A body with a list this long is checked for its first error only. With allErrors, Ajv makes one
 * error object per wrong item: a body limit's worth of numbers where strings belong (~430,000 of
 * them) held ~60 MB of heap for one request, and a few at once several hundred. A problem lists
 * 20 fields at most, so a long list loses nothing a caller would read but the other 19.
 */
export const LONGEST_LIST_FOR_EVERY_ERROR = 1000

function hasLongList (data: unknown): boolean {
  if (typeof data !== 'object' || data === null) return false
  if (Array.isArray(data)) return data.length > LONGEST_LIST_FOR_EVERY_ERROR
  for (const key in data) {
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
      const validate = ((data: unknown) => {
        let chosen = everyError
        if (hasLongList(data)) {
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
