import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMigrateArgs, redactPasswords } from './migrate.js';
import { UsageError } from './run.js';

const URL_WITH_PASSWORD = 'postgres://codeexec:s3cret-pw@db.example:5432/codeexec';

/** The UsageError `argv` (with `env`) is refused with. */
function refusal(argv: string[], env: Record<string, string | undefined> = {}): UsageError {
  try {
    parseMigrateArgs(argv, env);
  } catch (err) {
    if (err instanceof UsageError) return err;
    throw err;
  }
  throw new Error(`accepted: ${argv.join(' ')}`);
}

describe('codeexec migrate: arguments', () => {
  it.each([
    {
      name: 'both options',
      argv: ['--from', 'data', '--to', URL_WITH_PASSWORD],
      env: {},
      want: { from: resolve('data'), to: URL_WITH_PASSWORD, dryRun: false },
    },
    {
      name: 'postgresql:// and --dry-run',
      argv: ['--from=/var/lib/gw', '--to=postgresql://h/db', '--dry-run'],
      env: {},
      want: { from: '/var/lib/gw', to: 'postgresql://h/db', dryRun: true },
    },
    {
      name: 'the environment as defaults',
      argv: [],
      env: { CODEEXEC_DATA_DIR: '/srv/data', CODEEXEC_STORE: ' postgres://h/db ' },
      want: { from: '/srv/data', to: 'postgres://h/db', dryRun: false },
    },
    {
      name: 'options over the environment',
      argv: ['--from', '/a', '--to', 'postgres://b/c'],
      env: { CODEEXEC_DATA_DIR: '/srv/data', CODEEXEC_STORE: 'postgres://h/db' },
      want: { from: '/a', to: 'postgres://b/c', dryRun: false },
    },
  ])('accepts $name', ({ argv, env, want }) => {
    expect(parseMigrateArgs(argv, env)).toEqual({ kind: 'migrate', ...want });
  });

  it('answers --help', () => {
    expect(parseMigrateArgs(['--help'], {})).toEqual({ kind: 'help' });
    expect(parseMigrateArgs(['-h'], {})).toEqual({ kind: 'help' });
  });

  it.each([
    { name: 'no --from', argv: ['--to', 'postgres://h/db'], env: {}, says: '--from DIR is required' },
    { name: 'an empty --from', argv: ['--from', '', '--to', 'postgres://h/db'], env: {}, says: '--from' },
    { name: 'no --to', argv: ['--from', 'd'], env: {}, says: '--to postgres://' },
    {
      name: 'an empty CODEEXEC_STORE',
      argv: ['--from', 'd'],
      env: { CODEEXEC_STORE: ' ' },
      says: 'required',
    },
    {
      name: 'a positional argument',
      argv: ['--from', 'd', '--to', 'postgres://h/db', 'x'],
      env: {},
      says: "'x'",
    },
    {
      name: 'an unknown option',
      argv: ['--from', 'd', '--to', 'postgres://h/db', '--force'],
      env: {},
      says: '--force',
    },
    {
      name: 'a mysql:// --to',
      argv: ['--from', 'd', '--to', 'mysql://root:s3cret-pw@h/db'],
      env: {},
      says: '--to must be',
    },
    { name: 'a path as --to', argv: ['--from', 'd', '--to', '/var/lib/db'], env: {}, says: '--to must be' },
    {
      name: 'a --to without a host',
      argv: ['--from', 'd', '--to', 'postgres:///db'],
      env: {},
      says: 'no database host',
    },
    {
      name: 'a CODEEXEC_STORE that is not postgres://',
      argv: ['--from', 'd'],
      env: { CODEEXEC_STORE: 'redis://:s3cret-pw@h' },
      says: 'CODEEXEC_STORE must be',
    },
  ])('refuses $name', ({ argv, env, says }) => {
    const err = refusal(argv, env);
    expect(err.message).toContain(says);
    expect(err.message).not.toContain('s3cret-pw');
  });

  it('never repeats a password it was given, even in a misplaced argument', () => {
    // --to forgotten: parseArgs quotes the unexpected argument.
    const err = refusal(['--from', 'd', URL_WITH_PASSWORD]);
    expect(err.message).toContain('postgres://codeexec:***@db.example:5432/codeexec');
    expect(err.message).not.toContain('s3cret-pw');
  });
});

describe('redactPasswords', () => {
  it.each([
    [URL_WITH_PASSWORD, 'postgres://codeexec:***@db.example:5432/codeexec'],
    ["'postgres://u:p@ss@h/db'", "'postgres://u:***@h/db'"],
    ['postgres://u:pw@h/db?password=x&sslmode=require', 'postgres://u:***@h/db?password=***&sslmode=require'],
    ['postgres://h/db?password=x', 'postgres://h/db?password=***'],
    ['postgres://user@h/db and no password', 'postgres://user@h/db and no password'],
    [
      'job 3 failed: connect ECONNREFUSED 127.0.0.1:5432',
      'job 3 failed: connect ECONNREFUSED 127.0.0.1:5432',
    ],
  ])('%s', (text, want) => {
    expect(redactPasswords(text)).toBe(want);
  });
});
