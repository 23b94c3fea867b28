import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileLogger } from './file-logger.js';

const root = mkdtempSync(join(tmpdir(), 'codeexec-log-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('fileLogger', () => {
  it('appends one JSON line per event', () => {
    const file = join(root, 'a', 'desktop.log');
    const log = fileLogger(file, { now: () => new Date('2026-03-10T13:00:00Z') });
    log('info', 'started', { version: '0.1.0' });
    log('warn', 'no keyring');
    expect(
      readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line)),
    ).toEqual([
      { time: '2026-03-10T13:00:00.000Z', level: 'info', message: 'started', version: '0.1.0' },
      { time: '2026-03-10T13:00:00.000Z', level: 'warn', message: 'no keyring' },
    ]);
  });

  it('rotates to <file>.1 past its size, keeping one old file', () => {
    const file = join(root, 'b', 'desktop.log');
    const log = fileLogger(file, { maxBytes: 300 });
    for (let i = 0; i < 12; i++) log('info', `line ${i}`);
    const current = readFileSync(file, 'utf8');
    const previous = readFileSync(`${file}.1`, 'utf8');
    expect(current.length).toBeLessThanOrEqual(300);
    expect(current).toContain('line 11');
    expect(previous.length).toBeLessThanOrEqual(300);
  });

  it('echoes to another logger', () => {
    const seen: string[] = [];
    const log = fileLogger(join(root, 'c', 'desktop.log'), {
      echo: (level, message) => seen.push(`${level} ${message}`),
    });
    log('error', 'boom');
    expect(seen).toEqual(['error boom']);
  });
});
