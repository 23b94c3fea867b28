import { describe, expect, it } from 'vitest';
import { languageOptions, matchLanguage, pickLanguage } from './language-options.js';

const languages = [
  { name: 'python', versions: ['3.11.2'], aliases: ['py', 'python3'], runners: 1, building: 0 },
  { name: 'go', versions: ['1.19.8'], aliases: ['golang'], runners: 0, building: 1 },
  { name: 'bash', versions: [], aliases: ['sh'], runners: 2, building: 0 },
  { name: 'rust', versions: ['1.63.0'], aliases: [], runners: 0, building: 0 },
];

describe('the language picker', () => {
  it('lists what runners offer or build, sorted, with the version, building ones marked', () => {
    expect(languageOptions({ languages }).map((option) => [option.value, option.label])).toEqual([
      ['bash', 'bash'],
      ['go', 'go 1.19.8 (image building…)'],
      ['python', 'python 3.11.2'],
    ]);
  });

  it('selects the wanted language by name or alias, else python, else the first', () => {
    const options = languageOptions({ languages });
    expect(pickLanguage(options, ['go'])).toBe('go');
    expect(pickLanguage(options, ['Golang'])).toBe('go');
    expect(pickLanguage(options, [null, 'sh'])).toBe('bash');
    expect(pickLanguage(options, ['cobol', undefined])).toBe('python');
    expect(
      pickLanguage(
        options.filter((o) => o.value !== 'python'),
        [],
      ),
    ).toBe('bash');
    expect(pickLanguage([], ['python'])).toBeNull();
    expect(matchLanguage(options, 'PY')).toBe('python');
    expect(matchLanguage(options, 'rust')).toBeNull();
  });
});
