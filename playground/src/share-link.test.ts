import { describe, expect, it } from 'vitest';
import { decodeShare, encodeShare, fromBase64Url, toBase64Url } from './share-link.js';

describe('share links', () => {
  it.each([
    ['plain ASCII', 'python', 'print(6*7)\n'],
    ['empty code', 'bash', ''],
    ['unicode: accents, CJK, emoji, combining marks', 'python', 'print("héllo 世界 👋🏽 é")\n'],
    ['characters URLs treat specially', 'cpp', '#include <x>\n// a&b=c?d#e%20+f\n'],
    ['a lone surrogate pair split never happens: astral characters', 'javascript', '"𝔘𝔫𝔦𝔠𝔬𝔡𝔢"'],
  ])('round-trips %s', async (_name, lang, code) => {
    const hash = await encodeShare({ lang, code });
    expect(hash.startsWith('#lang=')).toBe(true);
    // The fragment survives a URL: nothing in it needs escaping again.
    const url = new URL(`https://gateway.example/${hash}`);
    expect(url.hash).toBe(hash);
    expect(await decodeShare(url.hash)).toEqual({ lang, code });
  });

  it('compresses long code, and the link is much shorter than the code', async () => {
    const code = `${'for i in range(10):\n    print("line", i)\n'.repeat(2000)}print("end ✓")\n`;
    const hash = await encodeShare({ lang: 'python', code });
    expect(new URLSearchParams(hash.slice(1)).has('z')).toBe(true);
    expect(hash.length).toBeLessThan(code.length / 20);
    expect(await decodeShare(hash)).toEqual({ lang: 'python', code });
  });

  it('keeps short code uncompressed (readable, and deflate would only add bytes)', async () => {
    const hash = await encodeShare({ lang: 'python', code: 'print(1)' });
    expect(new URLSearchParams(hash.slice(1)).get('code')).toBe(
      toBase64Url(new TextEncoder().encode('print(1)')),
    );
  });

  it('round-trips random code of many sizes', async () => {
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    const alphabet = ['a', 'Z', ' ', '\n', '\t', 'é', '€', '😀', '"', '\\', '#', '&', '='];
    for (const size of [1, 2, 3, 17, 255, 4096, 100_000]) {
      const code = Array.from({ length: size }, () => alphabet[next() % alphabet.length]).join('');
      expect(await decodeShare(await encodeShare({ lang: 'ruby', code }))).toEqual({ lang: 'ruby', code });
    }
  });

  it.each([
    [''],
    ['#'],
    ['#code=cHJpbnQ'],
    ['#lang=python'],
    ['#lang=python&code=not*base64'],
    ['#lang=python&z=AAAA'],
    ['#lang=bad lang&code=cHJpbnQ'],
    ['#lang=python&code=_w'], // 0xff: not UTF-8
  ])('does not restore %j', async (hash) => {
    expect(await decodeShare(hash)).toBeNull();
  });

  it('reads base64url without padding, in slices for big inputs', () => {
    const bytes = Uint8Array.from({ length: 70_000 }, (_, i) => i % 256);
    const text = toBase64Url(bytes);
    expect(text).not.toMatch(/[+/=]/);
    expect(fromBase64Url(text)).toEqual(bytes);
  });
});
