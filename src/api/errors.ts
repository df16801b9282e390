// API errors (issue #12): every refusal is JSON `{ error, message, field? }` with a 4xx status; a 500 means
// a bug, never bad input.
import type { EditRefusal } from '../config/config-editor.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export const badRequest = (message: string, field?: string, details?: unknown) => new ApiError(400, message, field, details);
export const unauthorized = (message = 'log in first (Authorization: Bearer <token>)') => new ApiError(401, message);
export const forbidden = (message = 'your role does not allow this') => new ApiError(403, message);
export const notFound = (what: string) => new ApiError(404, `${what} not found`);
export const conflict = (message: string, field?: string) => new ApiError(409, message, field);

export function refusalError(r: EditRefusal): ApiError {
  return new ApiError(
    r.status,
    r.message,
    r.field,
    r.errors?.map((e) => ({ line: e.line, field: e.path, message: e.message })),
  );
}

/** The JSON body of an error response. */
export interface ErrorBody {
  error: string;
  message: string;
  field?: string;
  details?: unknown;
}

const names: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'too_large',
  415: 'unsupported_media_type',
  429: 'too_many_requests',
};

export function errorBody(status: number, message: string, field?: string, details?: unknown): ErrorBody {
  const body: ErrorBody = { error: names[status] ?? (status >= 500 ? 'internal' : 'error'), message };
  if (field !== undefined) body.field = field;
  if (details !== undefined) body.details = details;
  return body;
}
