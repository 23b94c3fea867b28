/// <reference lib="dom" />
// The REST calls the page makes, relative to the page (a proxy may mount the gateway under a
// prefix), with the user's key as `Authorization: Bearer`. Answers are checked against the API's
// own schemas; an error answer becomes an ApiError with the gateway's stable code.
import * as v from 'valibot';
import { ErrorResponseSchema, type LanguagesResponse, LanguagesResponseSchema } from '../../shared/rest.js';

export class ApiError extends Error {
  /** The HTTP status; 0 when the gateway could not be reached. */
  readonly status: number;
  /** An error code of docs/errors.md, or `connection_lost`, or `invalid_response`. */
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export class ApiClient {
  readonly #base: string;
  readonly #key: () => string | null;
  readonly #fetch: typeof fetch;

  /** `base`: the page's URL; routes resolve against it. */
  constructor(base: string, key: () => string | null, fetcher: typeof fetch = (...args) => fetch(...args)) {
    this.#base = base;
    this.#key = key;
    this.#fetch = fetcher;
  }

  languages(): Promise<LanguagesResponse> {
    return this.#get('languages', LanguagesResponseSchema);
  }

  async #get<T>(path: string, schema: v.GenericSchema<unknown, T>): Promise<T> {
    const key = this.#key();
    let response: Response;
    try {
      response = await this.#fetch(new URL(path, this.#base), {
        headers: key ? { authorization: `Bearer ${key}` } : {},
        cache: 'no-store',
      });
    } catch (err) {
      throw new ApiError(0, 'connection_lost', `Could not reach the gateway (${(err as Error).message})`);
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    if (!response.ok) {
      const error = v.safeParse(ErrorResponseSchema, body);
      if (error.success)
        throw new ApiError(response.status, error.output.error.code, error.output.error.message);
      throw new ApiError(response.status, 'invalid_response', `The gateway answered ${response.status}`);
    }
    const parsed = v.safeParse(schema, body);
    if (!parsed.success) {
      throw new ApiError(response.status, 'invalid_response', `Unexpected answer to GET ${path}`);
    }
    return parsed.output;
  }
}
