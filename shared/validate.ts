// Parse untrusted input against a schema; failures become one CodeexecError whose message names
// each wrong field, in valibot's issue shape (path, expected, received).
import * as v from 'valibot';
import { CodeexecError, type ErrorCode } from './errors.js';

export interface Problem {
  path: string;
  message: string;
  expected: string | null;
  received: string;
}

export function describeIssues(issues: readonly v.BaseIssue<unknown>[]): Problem[] {
  return issues.map((issue) => ({
    path: issue.path?.map((item) => String(item.key)).join('.') || '(root)',
    message: friendly(issue),
    expected: issue.expected,
    received: issue.received,
  }));
}

/** valibot's key issues read "Invalid key: Expected …"; say what they mean instead. */
function friendly(issue: v.BaseIssue<unknown>): string {
  if (issue.expected === 'never') return 'unknown field';
  if (issue.received === 'undefined' && issue.path?.length) return 'required';
  return issue.message;
}

export function parse<S extends v.GenericSchema>(
  schema: S,
  input: unknown,
  code: ErrorCode = 'invalid_request',
): v.InferOutput<S> {
  const result = v.safeParse(schema, input);
  if (result.success) return result.output;
  const problems = describeIssues(result.issues);
  const message = problems.map((p) => `${p.path}: ${p.message}`).join('; ');
  throw new CodeexecError(code, message, problems);
}

/** JSON.parse that throws invalid_json (or the given code) with the parser's reason. */
export function parseJson(text: string, code: ErrorCode = 'invalid_json'): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CodeexecError(code, `The body is not valid JSON: ${(err as Error).message}`);
  }
}
