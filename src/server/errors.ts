/**
 * The one error type of the HTTP door: a status code, a message that says what to do, and the
 * request field at fault (an option name, `image`, `id`), sent to the client as JSON.
 */
import { PasdError } from '../core/errors.ts';

export class HttpError extends PasdError {
  constructor(readonly status: number, message: string, readonly field?: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

/** A bad value of one request field (400). */
export const badField = (field: string, message: string) => new HttpError(400, `${field}: ${message}`, field);
