import { describe, expect, it } from 'vitest';
import type { JobStatus, RunnerView } from '../shared/rest.js';
import { formatJobs, parseJobsArgs } from './jobs.js';
import { UsageError } from './run.js';
import { formatRunners, formatTable, parseRunnersArgs } from './runners.js';

const job = (fields: Partial<JobStatus>): JobStatus => ({
  id: '0123456789abcdef',
  task_id: null,
  lang: 'python',
  status: 'done',
  attempt: 1,
  runner_id: 'runner-a',
  session_id: null,
  created_at: '2026-05-06T14:05:09.123Z',
  started_at: null,
  finished_at: null,
  ...fields,
});

describe('codeexec jobs', () => {
  it('parses its options', () => {
    expect(parseJobsArgs([], {})).toEqual({
      kind: 'list',
      limit: 20,
      json: false,
      gateway: 'http://127.0.0.1:8080',
      key: null,
    });
    expect(parseJobsArgs(['--limit', '5', '--json'], { CODEEXEC_API_KEY: 'k' })).toMatchObject({
      limit: 5,
      json: true,
      key: 'k',
    });
    expect(parseJobsArgs(['-h'], {})).toEqual({ kind: 'help' });
    for (const argv of [['--limit', '0'], ['--limit', '501'], ['--limit', 'x'], ['extra'], ['--nope']]) {
      expect(() => parseJobsArgs(argv, {})).toThrow(UsageError);
    }
  });

  it('formats a table', () => {
    const text = formatJobs([
      job({}),
      job({ id: 'ffffffff-1', lang: 'javascript', status: 'queued', runner_id: null }),
    ]);
    expect(text).toBe(
      [
        'ID        LANG        STATUS  ATTEMPT  RUNNER    CREATED',
        '01234567  python      done    1        runner-a  2026-05-06 14:05:09',
        'ffffffff  javascript  queued  1        -         2026-05-06 14:05:09',
        '',
      ].join('\n'),
    );
    expect(formatJobs([])).toBe('no jobs\n');
  });
});

describe('codeexec runners', () => {
  it('parses its options: the admin key', () => {
    expect(parseRunnersArgs([], { CODEEXEC_ADMIN_KEY: 'adm', CODEEXEC_API_KEY: 'k' })).toMatchObject({
      key: 'adm',
    });
    expect(parseRunnersArgs(['--key', 'x', '--json'], {})).toMatchObject({ key: 'x', json: true });
    expect(() => parseRunnersArgs(['--limit', '3'], {})).toThrow(UsageError);
  });

  it('formats a table', () => {
    const runner = {
      name: 'r1',
      gateway: 'gw-0a1b2c3d4e5f',
      tier: 'trusted',
      state: 'ready',
      slots: 4,
      load: 1,
      jobs_done: 12,
      languages: ['python', 'go'],
    } as RunnerView;
    expect(formatRunners([runner])).toBe(
      [
        'NAME  GATEWAY          TIER     STATE  SLOTS  DONE  LANGUAGES',
        'r1    gw-0a1b2c3d4e5f  trusted  ready  1/4    12    python,go',
        '',
      ].join('\n'),
    );
    expect(formatRunners([])).toBe('no runners connected\n');
  });

  it('pads every column but the last', () => {
    expect(
      formatTable(
        ['A', 'B'],
        [
          ['long', ''],
          ['x', 'y'],
        ],
      ),
    ).toBe('A     B\nlong\nx     y\n');
  });
});
