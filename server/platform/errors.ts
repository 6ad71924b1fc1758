import { ERROR_CODES, type ErrorCode } from '@shared/errors';

/** An error the client can act on: stable code, HTTP status from the code, human message. */
export class AppError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.statusCode = ERROR_CODES[code];
  }
}
