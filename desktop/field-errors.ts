// valibot's issues as one short message per form field, keyed by the field's dot path
// ("limits.max_jobs" → "must be at least 1"): the settings window shows them beside the inputs,
// and main answers a refused save with the same map. Plain: bundled into the page as well.
import * as v from 'valibot';

/** The first problem of each field, by dot path ('' for the whole value). */
export function fieldErrors(issues: readonly v.BaseIssue<unknown>[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const issue of issues) {
    const path = v.getDotPath(issue) ?? '';
    fields[path] ??= fieldMessage(issue);
  }
  return fields;
}

/** One line for a refused value: "limits.max_jobs must be at least 1; schedule.windows.0.days …". */
export function summariseFields(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([path, message]) => (path === '' ? message : `${path} ${message}`))
    .join('; ');
}

/** A message that reads after the field's label: "must be at least 1". */
export function fieldMessage(issue: v.BaseIssue<unknown>): string {
  // A schema's own message ("a time HH:MM") names what is wanted; valibot's defaults start "Invalid".
  const custom = !issue.message.startsWith('Invalid ');
  const requirement = (issue as { requirement?: unknown }).requirement;
  switch (issue.type) {
    case 'min_value':
      return `must be at least ${String(requirement)}`;
    case 'max_value':
      return `must be at most ${String(requirement)}`;
    case 'integer':
      return 'must be a whole number';
    case 'min_length':
      return Array.isArray(issue.input) ? 'pick at least one' : 'must not be empty';
    case 'max_length':
      return Array.isArray(issue.input)
        ? `at most ${String(requirement)} allowed`
        : `must be at most ${String(requirement)} characters`;
    case 'regex':
    case 'url':
    case 'check':
    case 'partial_check':
      // The schema's own sentences read "expected at least …, got 40": the form shows what is wanted.
      if (issue.message.startsWith('expected '))
        return `must be ${issue.message.slice(9).replace(/, got .*$/, '')}`;
      return custom ? `must be ${issue.message}` : 'has the wrong format';
  }
  if (issue.kind === 'schema') {
    if (issue.expected === 'never') return 'is not a setting';
    if (issue.received === 'undefined') return 'is required';
    if (issue.expected === 'number') return 'must be a number';
    return `must be ${issue.expected}, not ${issue.received}`;
  }
  return issue.message;
}
