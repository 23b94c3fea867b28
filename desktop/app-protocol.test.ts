import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAppPage, pageUrl, resolveAppRequest } from './app-protocol.js';

const dir = '/opt/codeexec/pages';

describe('resolveAppRequest', () => {
  it.each([
    ['codeexec://app/status.html', 'status.html', 'text/html; charset=utf-8'],
    ['codeexec://app/settings-page.js', 'settings-page.js', 'text/javascript; charset=utf-8'],
    ['codeexec://app/desktop.css?v=2', 'desktop.css', 'text/css; charset=utf-8'],
    ['codeexec://app/status-page.js.map', 'status-page.js.map', 'application/json; charset=utf-8'],
  ])('serves %s from the pages directory', (url, name, contentType) => {
    expect(resolveAppRequest(url, dir)).toEqual({ file: join(dir, name), contentType });
  });

  it.each([
    'codeexec://app/../../etc/passwd',
    'codeexec://app/%2e%2e/%2e%2e/etc/passwd',
    'codeexec://app/..%2F..%2Fetc%2Fpasswd',
    'codeexec://app/sub/status.html',
    'codeexec://app/',
    'codeexec://app/main.ts',
    'codeexec://app/.hidden.js',
    'codeexec://other/status.html',
    'file:///etc/passwd',
    'https://app/status.html',
    'not a url',
  ])('refuses %s', (url) => {
    expect(resolveAppRequest(url, dir)).toBeNull();
  });
});

describe('isAppPage', () => {
  it('accepts the two pages and nothing else', () => {
    expect(isAppPage(pageUrl('status'))).toBe(true);
    expect(isAppPage(pageUrl('settings'))).toBe(true);
    expect(isAppPage('codeexec://app/status.html#jobs')).toBe(true);
    for (const url of [
      'codeexec://app/status-page.js',
      'codeexec://evil/status.html',
      'file:///opt/codeexec/pages/status.html',
      'https://gateway.example.org/status.html',
      'about:blank',
      '',
    ]) {
      expect(isAppPage(url), url).toBe(false);
    }
  });
});
