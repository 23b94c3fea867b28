// Checks a real response against the OpenAPI document the gateway serves: the documented status
// must exist for the route, and the body must match its JSON Schema.
import { Ajv2020 } from 'ajv/dist/2020.js';
import { expect } from 'vitest';

// biome-ignore lint/suspicious/noExplicitAny: JSON Schema objects
type Doc = { paths: Record<string, Record<string, { responses: Record<string, { content: any }> }>> };

export class OpenApiChecker {
  readonly #doc: Doc;
  readonly #ajv = new Ajv2020({ strict: false, allErrors: true });
  /** Which (method path status) were checked: the suite asserts that every documented one was. */
  readonly seen = new Set<string>();

  private constructor(doc: Doc) {
    this.#doc = doc;
  }

  static async load(baseUrl: string): Promise<OpenApiChecker> {
    const response = await fetch(`${baseUrl}/openapi.json`);
    expect(response.status).toBe(200);
    return new OpenApiChecker((await response.json()) as Doc);
  }

  /** Every (method path status) the document lists. */
  documented(): string[] {
    const out: string[] = [];
    for (const [path, methods] of Object.entries(this.#doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        for (const status of Object.keys(op.responses)) out.push(`${method.toUpperCase()} ${path} ${status}`);
      }
    }
    return out.sort();
  }

  /** `path` is the documented template, e.g. `/execute/{id}/status`. */
  check(method: string, path: string, status: number, body: unknown): void {
    const op = this.#doc.paths[path]?.[method.toLowerCase()];
    expect(op, `${method} ${path} is documented`).toBeDefined();
    const response = op!.responses[String(status)];
    expect(response, `${method} ${path} documents status ${status}`).toBeDefined();
    // JSON, or the one other media type documented (text/event-stream: the body as text).
    const content = response!.content;
    const schema = (content['application/json'] ?? Object.values(content)[0]).schema;
    const valid = this.#ajv.validate(schema, body);
    expect(this.#ajv.errors ?? [], `${method} ${path} ${status} matches its schema`).toEqual([]);
    expect(valid).toBe(true);
    this.seen.add(`${method.toUpperCase()} ${path} ${status}`);
  }
}
