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
    const log = fileLogger(file);
    log.info({ version: '0.1.0' }, 'started');
    log.warn('no keyring');
    log.debug('below the level');
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines).toEqual([
      {
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        level: 'info',
        msg: 'started',
        version: '0.1.0',
      },
      { time: expect.any(String), level: 'warn', msg: 'no keyring' },
    ]);
  });

  it('rotates to <file>.1 past its size, keeping one old file', () => {
    const file = join(root, 'b', 'desktop.log');
    const log = fileLogger(file, { maxBytes: 300 });
    for (let i = 0; i < 12; i++) log.info(`line ${i}`);
    const current = readFileSync(file, 'utf8');
    const previous = readFileSync(`${file}.1`, 'utf8');
    expect(current.length).toBeLessThanOrEqual(300);
    expect(current).toContain('line 11');
    expect(previous.length).toBeLessThanOrEqual(300);
  });

  it('echoes each line to another destination', () => {
    const seen: string[] = [];
    const log = fileLogger(join(root, 'c', 'desktop.log'), { echo: { write: (line) => seen.push(line) } });
    log.error('boom');
    expect(seen.map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({ level: 'error', msg: 'boom' }),
    ]);
  });
});
