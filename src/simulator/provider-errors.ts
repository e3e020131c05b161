export interface ProviderError { code: number, type: string, message: string }
export interface ProviderErrorBody { error: ProviderError }

/** @see ../../../shared/docs/serwersms-api.md "Error codes known so far" */
export const PROVIDER_ERRORS = {
  invalidAction: { code: 1000, type: 'InvalidAction', message: 'Unknown action' },
  invalidUser: { code: 1001, type: 'InvalidUser', message: 'Wrong login or password' },
  invalidData: { code: 1006, type: 'InvalidData', message: 'Invalid data format' },
  validationRequired: { code: 2000, type: 'ValidationRequiredError', message: 'Required parameters are missing' },
  emptyMessage: { code: 3101, type: 'SendError', message: 'The message is empty' },
  messageTooLong: { code: 3102, type: 'SendError', message: 'Message too long' },
  incorrectNumber: { code: 3103, type: 'SendError', message: 'Incorrect number' },
  noPhoneNumbers: { code: 3104, type: 'SendError', message: 'No specified phone numbers' }
} as const satisfies Record<string, ProviderError>

const TYPE_BY_CODE: ReadonlyMap<number, string> = new Map([
  [1000, 'InvalidAction'],
  [1001, 'InvalidUser'],
  [1002, 'InvalidRole'],
  [1003, 'InvalidIP'],
  [1004, 'InvalidID'],
  [1005, 'InvalidRole'],
  [1006, 'InvalidData'],
  [1007, 'InvalidRole'],
  [2000, 'ValidationRequiredError'],
  [2001, 'ValidationPhoneError']
])
const SEND_ERROR_CODES = { min: 3000, max: 3999 }

export function providerError (error: ProviderError, message: string = error.message): ProviderErrorBody {
  return { error: { code: error.code, type: error.type, message } }
}

/** The type the provider pairs with `code`, for faults that name only a code. */
export function providerErrorType (code: number): string {
  const known = TYPE_BY_CODE.get(code)
  if (known !== undefined) return known
  return code >= SEND_ERROR_CODES.min && code <= SEND_ERROR_CODES.max ? 'SendError' : 'UnknownError'
}
