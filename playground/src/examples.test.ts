import { describe, expect, it } from 'vitest';
import { LANGUAGES } from '../../shared/languages.js';
import { EXAMPLES, exampleFor } from './examples.js';

describe('examples', () => {
  it('exist for every language the gateway runs, and for no other', () => {
    expect(Object.keys(EXAMPLES).sort()).toEqual(LANGUAGES.map((lang) => lang.name).sort());
  });

  it("java's is class Main, as its file Main.java wants", () => {
    expect(exampleFor('java')).toMatch(/public class Main\b/);
  });

  it('a language without one gets a comment to start from', () => {
    expect(exampleFor('cobol')).toMatch(/No example for cobol/);
  });
});
