// docs/errors.md and the error table must list the same codes with the same statuses.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS } from './errors.js';

const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
const rows = [...doc.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]);

describe('docs/errors.md', () => {
  it('lists every code of shared/errors.ts with its status, and no other', () => {
    const table = Object.entries(ERRORS).map(([code, { status }]) => [code, status]);
    expect(Object.fromEntries(rows)).toEqual(Object.fromEntries(table));
    expect(rows).toHaveLength(table.length);
  });
});
