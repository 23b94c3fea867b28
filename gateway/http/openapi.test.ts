import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { buildOpenApi } from './openapi.js';

describe('the OpenAPI document', () => {
  const doc = buildOpenApi('test');

  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc as Parameters<Validator['validate']>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('docs/openapi.json is the current document (update with `npx vitest run -u`)', async () => {
    await expect(`${JSON.stringify(buildOpenApi('0.1.0'), null, 2)}\n`).toMatchFileSnapshot(
      '../../docs/openapi.json',
    );
  });
});
