// The owner's donor settings on disk (`settings.json`, the headless donor's and the app's): read
// against DonorSettingsSchema, written whole then renamed. No file means the defaults; a damaged
// file is an error that names the file and each problem, never reset or overwritten: the owner
// may have edited it by hand, and silently donating on defaults (on battery, all day) would betray
// what they asked for.
import * as v from 'valibot';
import { type DonorSettings, DonorSettingsSchema } from '../shared/donor.js';
import { readJsonFile, writeFileAtomic } from './private-file.js';

/** The settings file could not be read or the settings are not valid: which file, and why. */
export class SettingsFileError extends Error {
  override name = 'SettingsFileError';
  constructor(
    readonly file: string,
    /** One line per problem: "limits.max_jobs: expected a value >= 1, got 0". */
    readonly problems: readonly string[],
    prefix = '',
  ) {
    super(`${file}: ${prefix}${summarise(problems)}`);
  }
}

/** Problems beyond this many are counted, not listed, in an error's message. */
const LISTED_PROBLEMS = 5;

function summarise(problems: readonly string[]): string {
  const listed = problems.slice(0, LISTED_PROBLEMS).join('; ');
  const more = problems.length - LISTED_PROBLEMS;
  return more > 0 ? `${listed}; and ${more} more` : listed;
}

/**
 * The settings in `path`, or `defaults` (source 'defaults') when there is no such file. Throws a
 * SettingsFileError when the file cannot be read, is not JSON or does not match the schema.
 */
export async function loadSettings(
  path: string,
  defaults: DonorSettings,
): Promise<{ settings: DonorSettings; source: 'file' | 'defaults' }> {
  const json = await readJsonFile(path, (problems) => new SettingsFileError(path, problems));
  if (json === undefined) return { settings: defaults, source: 'defaults' };
  const parsed = v.safeParse(DonorSettingsSchema, json);
  if (!parsed.success) throw new SettingsFileError(path, parsed.issues.map(describeIssue));
  return { settings: parsed.output, source: 'file' };
}

/** Validates `settings` (SettingsFileError, nothing written, when invalid), then writes them atomically. */
export async function saveSettings(path: string, settings: DonorSettings): Promise<void> {
  const parsed = v.safeParse(DonorSettingsSchema, settings);
  if (!parsed.success) throw new SettingsFileError(path, parsed.issues.map(describeIssue), 'not saved: ');
  await writeFileAtomic(path, `${JSON.stringify(parsed.output, null, 2)}\n`);
}

/** One schema problem as a line for people: "limits.max_jobs: expected a value >= 1, got 0". */
export function describeIssue(issue: v.BaseIssue<unknown>): string {
  const where = v.getDotPath(issue);
  return where === null || where === '' ? describeProblem(issue) : `${where}: ${describeProblem(issue)}`;
}

function describeProblem(issue: v.BaseIssue<unknown>): string {
  const got = issue.received;
  const bound = (what: string) =>
    `expected ${what} ${issue.expected?.replace(/^([<>!]?=?)/, '$1 ')}, got ${got}`;
  const custom = !issue.message.startsWith('Invalid ');
  switch (issue.type) {
    case 'min_value':
    case 'max_value':
    case 'gt_value':
    case 'lt_value':
      return bound('a value');
    case 'min_length':
    case 'max_length':
    case 'length':
      return bound('a length');
    case 'integer':
      return `expected an integer, got ${got}`;
    case 'regex':
      return `expected ${custom ? issue.message : `the format ${issue.expected}`}, got ${got}`;
    case 'check':
    case 'partial_check':
      return issue.message;
  }
  if (issue.kind === 'schema') {
    if (issue.expected === 'never') return 'unknown key (not part of the schema)';
    if (got === 'undefined') return 'missing';
    const expected =
      issue.expected === 'Object' ? 'an object' : issue.expected === 'Array' ? 'an array' : issue.expected;
    return `expected ${expected}, got ${got}`;
  }
  return issue.message;
}
