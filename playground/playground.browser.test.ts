// The playground in a real browser, on a real gateway with a real runner and Docker: the page is
// built with the build's own config (tsup.config.ts `webPages`) into a temporary web root that the
// gateway serves at `/`, and driven in headless Chromium by the accessible names people and screen
// readers use (Language, Run, Stop, Stdin, Output). Screenshots go to test-results/screenshots/.
/// <reference lib="dom" />
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { build } from 'tsup';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, pageProblems, SCREENSHOTS } from '../test/browser.js';
import { startGateway, startRunner, tempDir } from '../test/helpers.js';
import { tcpRelay } from '../test/tcp-relay.js';
import { webPages } from '../tsup.config.js';
import { KEY_ITEM } from './src/key-store.js';

const API_KEY = 'playground-browser-key';
const DESKTOP = { width: 1280, height: 900 };
const NARROW = { width: 390, height: 844 };
/** How long to wait for what Docker does (start, compile, run, list files) on a busy 2-core machine. */
const DOCKER = { timeout: 30_000 };

/** The open gateway (python and c) and the one that wants API_KEY (python). */
let openUrl = '';
let keyedUrl = '';
let webRoot = '';
let browser: Browser | null = null;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  const options = webPages.find((page) => page.name === 'web-playground');
  if (!options) throw new Error('tsup.config.ts has no web-playground page');
  webRoot = await tempDir();
  await build({ ...options, outDir: join(webRoot, 'playground'), silent: true, config: false });
  const open = await startGateway({ webRoot });
  const keyed = await startGateway({ webRoot, apiKeys: [API_KEY] });
  openUrl = `${open.url}/`;
  keyedUrl = `${keyed.url}/`;
  const runners = await Promise.all([
    startRunner({ gatewayUrl: open.url, token: open.token, slots: 3, languages: ['python', 'c'] }),
    startRunner({ gatewayUrl: keyed.url, token: keyed.token, slots: 1, maxWarm: 1, languages: ['python'] }),
  ]);
  await Promise.all(runners.map((runner) => runner.connected()));
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  // The gateways, runners and web root go with test/helpers' teardown, even if this fails.
  await browser?.close().catch(() => {});
});

afterEach(async () => {
  for (const context of contexts.splice(0)) await context.close().catch(() => {});
});

/** The playground at `url` in a fresh browser context, once its languages are loaded. */
async function open(
  url: string,
  {
    viewport = DESKTOP,
    ready = true,
  }: { viewport?: { width: number; height: number }; ready?: boolean } = {},
): Promise<{ page: Page; problems: string[] }> {
  if (!browser) throw new Error('no browser');
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  contexts.push(context);
  const page = await context.newPage();
  const problems = await pageProblems(page);
  await page.goto(url);
  if (ready) await expect.poll(() => page.getByLabel('Language').inputValue()).not.toBe('');
  return { page, problems };
}

const output = (page: Page) => page.getByRole('region', { name: 'Output' });
const outputText = async (page: Page) => (await output(page).textContent()) ?? '';
const headline = async (page: Page) => (await page.locator('#run-headline').textContent()) ?? '';
const details = async (page: Page) => (await page.locator('#run-details').textContent()) ?? '';
const streamText = (page: Page, stream: 'stdout' | 'stderr' | 'stdin') =>
  output(page)
    .locator(`[data-stream="${stream}"]`)
    .evaluateAll((pieces) => pieces.map((piece) => piece.lastChild?.textContent ?? '').join(''));
/** The editor's lines (CodeMirror draws each as a .cm-line; an empty one holds a <br>). */
const editorText = (page: Page) =>
  page
    .getByRole('textbox', { name: 'Code' })
    .evaluate((content) =>
      [...content.querySelectorAll('.cm-line')].map((line) => line.textContent).join('\n'),
    );

/** Replaces the editor's code as typing would, in one input (no auto-indent, no closing brackets). */
async function setCode(page: Page, code: string): Promise<void> {
  const editor = page.getByRole('textbox', { name: 'Code' });
  await editor.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(code);
  expect((await editorText(page)).trimEnd()).toBe(code.trimEnd());
}

/** Waits for the run to end and for Run to be enabled again. */
async function ended(page: Page): Promise<void> {
  await expect.poll(() => page.getByRole('button', { name: 'Run' }).isEnabled(), DOCKER).toBe(true);
}

const shot = (page: Page, name: string, fullPage = false) =>
  page.screenshot({ path: join(SCREENSHOTS, `playground-${name}.png`), fullPage });

/** Whether the page scrolls sideways. */
const overflows = (page: Page) =>
  page.evaluate(() => {
    const root = document.scrollingElement ?? document.documentElement;
    return root.scrollWidth > root.clientWidth;
  });

describe('the playground', () => {
  it('runs python and shows 42, stdout and stderr told apart, the exit code, reason and timings', async () => {
    const { page, problems } = await open(openUrl);
    const picker = page.getByLabel('Language');
    expect(await picker.inputValue()).toBe('python');
    expect(await picker.locator('option').allInnerTexts()).toEqual([
      expect.stringMatching(/^c \d/),
      expect.stringMatching(/^python 3\.\d+/),
    ]);
    // The example is there to start from; the test's own program replaces it.
    expect(await editorText(page)).toContain('Hello, {name}!');
    await setCode(page, 'import sys\nprint(6*7)\nprint("careful: this goes to stderr", file=sys.stderr)');
    await page.getByRole('button', { name: 'Run' }).click();
    await ended(page);
    expect(await headline(page)).toBe('Exit code 0');
    expect(await details(page)).toMatch(/^exited · queue [\d.]+ m?s · run [\d.]+ m?s · total [\d.]+ m?s$/);
    expect(await streamText(page, 'stdout')).toBe('42\n');
    expect(await streamText(page, 'stderr')).toBe('careful: this goes to stderr\n');
    // Screen readers hear which lines are stderr.
    expect(await outputText(page)).toContain('42');
    expect(await output(page).locator('.stderr .visually-hidden').first().textContent()).toBe('stderr: ');
    expect(await page.locator('#run-status').getAttribute('data-tone')).toBe('ok');
    await shot(page, 'python');
    expect(problems).toEqual([]);
  });

  it('runs an interactive program and takes its answers from the page', async () => {
    const { page, problems } = await open(openUrl);
    await page.getByRole('checkbox', { name: 'Interactive' }).check();
    await setCode(
      page,
      [
        'name = input("What is your name? ")',
        'print(f"Hello, {name}!")',
        'number = int(input("Pick a number: "))',
        'print(f"{number} doubled is {number * 2}")',
      ].join('\n'),
    );
    await page.getByRole('button', { name: 'Run' }).click();
    const input = page.getByRole('textbox', { name: 'Input', exact: true });
    await expect.poll(() => streamText(page, 'stdout'), DOCKER).toBe('What is your name? ');
    await expect.poll(() => input.evaluate((element) => element === document.activeElement)).toBe(true);
    await input.fill('Ada');
    await input.press('Enter');
    await expect.poll(() => streamText(page, 'stdout'), DOCKER).toContain('Hello, Ada!\nPick a number: ');
    expect(await streamText(page, 'stdin')).toBe('Ada\n');
    expect(await headline(page)).toBe('Running: type input below');
    await shot(page, 'interactive');
    await input.fill('21');
    await input.press('Enter');
    await ended(page);
    expect(await streamText(page, 'stdout')).toBe(
      'What is your name? Hello, Ada!\nPick a number: 21 doubled is 42\n',
    );
    expect(await headline(page)).toBe('Exit code 0');
    expect(await input.isVisible()).toBe(false);
    expect(problems).toEqual([]);
  });

  it('ends the program’s input with End input (EOF)', async () => {
    const { page } = await open(openUrl);
    await page.getByRole('checkbox', { name: 'Interactive' }).check();
    await setCode(page, 'import sys\nlines = sys.stdin.readlines()\nprint(f"{len(lines)} lines")');
    await page.getByRole('button', { name: 'Run' }).click();
    const input = page.getByRole('textbox', { name: 'Input', exact: true });
    await expect.poll(() => input.isVisible()).toBe(true);
    for (const line of ['one', 'two', 'three']) {
      await input.fill(line);
      await input.press('Enter');
    }
    await page.getByRole('button', { name: 'End input' }).click();
    await ended(page);
    expect(await streamText(page, 'stdout')).toBe('3 lines\n');
  });

  it('stops an infinite loop: cancelled, and Run is enabled again', async () => {
    const { page, problems } = await open(openUrl);
    await setCode(page, 'print("looping forever", flush=True)\nwhile True:\n    pass');
    const run = page.getByRole('button', { name: 'Run' });
    const stop = page.getByRole('button', { name: 'Stop' });
    expect(await stop.isDisabled()).toBe(true);
    await run.click();
    await expect.poll(() => streamText(page, 'stdout'), DOCKER).toBe('looping forever\n');
    expect(await run.isDisabled()).toBe(true);
    expect(await page.getByLabel('Language').isDisabled()).toBe(true);
    await stop.click();
    await ended(page);
    expect(await headline(page)).toBe('Cancelled');
    expect(await details(page)).toMatch(/^No exit code · queue [\d.]+ m?s · run [\d.]+ m?s · total /);
    expect(await stop.isDisabled()).toBe(true);
    await shot(page, 'stopped');
    expect(problems).toEqual([]);
  });

  it('session mode keeps a file between runs and lists the workspace', async () => {
    const { page, problems } = await open(openUrl);
    await page.getByRole('checkbox', { name: 'Session' }).check();
    const state = page.locator('#session-state');
    await expect.poll(() => state.textContent(), DOCKER).toMatch(/^Open: python on test-runner-/);
    const write = 'with open("notes.txt", "w") as f:\n    f.write("kept between runs")\nprint("written")';
    await setCode(page, write);
    await page.getByRole('button', { name: 'Run' }).click();
    await ended(page);
    expect(await streamText(page, 'stdout')).toBe('written\n');
    const files = page.getByRole('list', { name: 'Session files' });
    const listed = () =>
      files
        .locator('li')
        .evaluateAll((items) => items.map((item) => [...item.children].map((cell) => cell.textContent)));
    // Every file of the workspace, the run's own main.py too (the page asks with session_files).
    await expect.poll(listed, DOCKER).toEqual([
      ['main.py', `${write.length} B`],
      ['notes.txt', '17 B'],
    ]);

    const read = 'print(open("notes.txt").read())';
    await setCode(page, read);
    await page.keyboard.press('Control+Enter');
    await ended(page);
    expect(await streamText(page, 'stdout')).toBe('kept between runs\n');
    expect(await headline(page)).toBe('Exit code 0');
    await expect.poll(() => files.getAttribute('aria-busy'), DOCKER).toBe('false');
    expect(await listed()).toEqual([
      ['main.py', `${read.length} B`],
      ['notes.txt', '17 B'],
    ]);
    await shot(page, 'session');

    // Leaving session mode closes the session; a new one starts empty.
    await page.getByRole('checkbox', { name: 'Session' }).uncheck();
    expect(await page.locator('#session-panel').isHidden()).toBe(true);
    await page.getByRole('checkbox', { name: 'Session' }).check();
    await expect.poll(() => state.textContent(), DOCKER).toMatch(/^Open: python/);
    await setCode(page, 'import os\nprint(os.path.exists("notes.txt"))');
    await page.getByRole('button', { name: 'Run' }).click();
    await ended(page);
    expect(await streamText(page, 'stdout')).toBe('False\n');
    expect(problems).toEqual([]);
  });

  it('shows a compile error as such', async () => {
    const { page, problems } = await open(openUrl);
    await page.getByLabel('Language').selectOption('c');
    expect(await editorText(page)).toContain('#include <stdio.h>');
    await setCode(
      page,
      '#include <stdio.h>\n\nint main(void) {\n    printf("%d\\n", answer);\n    return 0;\n}',
    );
    await page.getByRole('button', { name: 'Run' }).click();
    await ended(page);
    const compile = output(page).getByRole('heading', { name: 'Compile error' });
    expect(await compile.isVisible()).toBe(true);
    expect(await page.locator('#compile-output').textContent()).toMatch(/error: .answer. undeclared/);
    expect(await headline(page)).toBe('Compile error');
    expect(await details(page)).toMatch(
      /^Compiler exit code 1 · queue [\d.]+ m?s · compile [\d.]+ m?s · total /,
    );
    expect(await page.locator('#run-note').textContent()).toContain('The program did not run');
    expect(await page.locator('#run-output').isHidden()).toBe(true);
    await shot(page, 'compile-error');
    expect(problems).toEqual([]);
  });

  it('asks for the API key the gateway wants, keeps it, and uses it for REST and the socket', async () => {
    const { page, problems } = await open(keyedUrl, { ready: false });
    const dialog = page.getByRole('dialog', { name: 'API key' });
    await expect.poll(() => dialog.isVisible()).toBe(true);
    expect(await dialog.textContent()).toContain('This gateway wants an API key');
    await shot(page, 'api-key');

    // A wrong key is refused, and asked for again.
    await dialog.getByLabel('API key').fill('not-the-key');
    await dialog.getByRole('button', { name: 'Save key' }).click();
    await expect.poll(() => dialog.isVisible()).toBe(true);
    await dialog.getByLabel('API key').fill(API_KEY);
    await dialog.getByRole('button', { name: 'Save key' }).click();
    await expect.poll(() => page.getByLabel('Language').inputValue()).toBe('python');
    expect(await dialog.isVisible()).toBe(false);
    expect(await page.evaluate((item) => localStorage.getItem(item), KEY_ITEM)).toBe(API_KEY);
    expect(await page.getByRole('button', { name: 'API key (set)' }).isVisible()).toBe(true);

    await setCode(page, 'print(6*7)');
    await page.getByRole('button', { name: 'Run' }).click();
    await ended(page);
    expect(await streamText(page, 'stdout')).toBe('42\n');

    // Kept in the browser: a new visit asks nothing.
    await page.reload();
    await expect.poll(() => page.getByLabel('Language').inputValue()).toBe('python');
    expect(await dialog.isVisible()).toBe(false);
    // The browser logs the refused GET /languages (401) of the first load: nothing else.
    expect(problems.filter((problem) => !/status of 401/.test(problem))).toEqual([]);
  });

  it('a share link restores the language and the code', async () => {
    const { page, problems } = await open(openUrl);
    await page.getByLabel('Language').selectOption('c');
    const code = '#include <stdio.h>\n\nint main(void) {\n    puts("héllo, wörld ✓");\n    return 0;\n}';
    await setCode(page, code);
    await page.getByRole('button', { name: 'Share' }).click();
    await expect.poll(() => new URL(page.url()).hash).toMatch(/^#lang=c&(code|z)=/);
    // The status follows the clipboard's answer, which comes after the URL is set.
    await expect
      .poll(() => page.locator('#share-status').textContent())
      .toMatch(/Link copied|Copy this link/);
    const link = page.url();

    const { page: restored, problems: restoredProblems } = await open(link);
    await expect.poll(() => restored.getByLabel('Language').inputValue()).toBe('c');
    expect((await editorText(restored)).trimEnd()).toBe(code);
    await restored.getByRole('button', { name: 'Run' }).click();
    await ended(restored);
    expect(await streamText(restored, 'stdout')).toBe('héllo, wörld ✓\n');
    await shot(restored, 'share');

    // A link to a language this gateway does not offer says so.
    const { page: foreign } = await open(`${openUrl}#lang=rust&code=Zm4gbWFpbigpIHt9`);
    await expect
      .poll(() => foreign.locator('#notice-text').textContent())
      .toBe('The shared link’s language, rust, is not offered by this gateway now.');
    expect([...problems, ...restoredProblems]).toEqual([]);
  });

  it('says when the output passed its limit', async () => {
    const { page, problems } = await open(openUrl);
    await setCode(page, 'import sys\nsys.stdout.write("x" * 3_000_000)\nprint("never seen")');
    await page.getByRole('button', { name: 'Run' }).click();
    await ended(page);
    expect(await headline(page)).toBe('No exit code');
    expect(await details(page)).toMatch(/^output limit: the output was cut and the program stopped · /);
    expect(await page.locator('#run-note').textContent()).toContain('The output reached its limit');
    const shown = await streamText(page, 'stdout');
    expect(shown.length).toBeGreaterThan(0);
    expect(shown.length).toBeLessThanOrEqual(1024 * 1024);
    expect(problems).toEqual([]);
  });

  it('says when the connection is lost, and offers to reconnect', async () => {
    const gw = await startGateway({ webRoot });
    const runner = await startRunner({
      gatewayUrl: gw.url,
      token: gw.token,
      slots: 1,
      maxWarm: 1,
      languages: ['python'],
    });
    await runner.connected();
    const { page, problems } = await open(`${gw.url}/`);
    const session = page.getByRole('checkbox', { name: 'Session' });
    await session.check();
    await expect.poll(() => page.locator('#session-state').textContent(), DOCKER).toMatch(/^Open: python/);
    await gw.gateway.close();
    const alert = page.getByRole('alert');
    const notice = page.locator('#notice-text');
    await expect
      .poll(() => notice.textContent())
      .toMatch(/The connection to the gateway was lost \(the socket closed with code \d+/);
    // The gateway's runner hub goes first (session_closed, runner_lost), or the socket with it.
    expect(await page.locator('#session-note').textContent()).toMatch(/its files are gone\.$/);
    expect(await session.isChecked()).toBe(false);
    await shot(page, 'connection-lost');
    await alert.getByRole('button', { name: 'Reconnect' }).click();
    await expect
      .poll(() => notice.textContent())
      .toMatch(/^Could not reconnect: the socket closed with code 1006\.$/);
    // The browser logs the refused reconnection: nothing else.
    expect(problems.filter((problem) => !/WebSocket connection to .* failed/.test(problem))).toEqual([]);
  });

  it('resumes a run whose connection drops: the whole output once, and a normal exit', async () => {
    // Through a TCP relay the test can cut the page's connection as a network does (RST, no close).
    const relay = await tcpRelay(openUrl);
    const { page, problems } = await open(`${relay.url}/`);
    await setCode(
      page,
      'import time\nfor i in range(1, 31):\n    print(f"line {i}", flush=True)\n    time.sleep(0.1)',
    );
    // Every headline the status line shows: "Reconnecting…" lasts only until the page is back.
    await page.locator('#run-headline').evaluate((headline) => {
      const seen: string[] = [];
      Object.assign(window, { headlines: seen });
      new MutationObserver(() => seen.push(headline.textContent ?? '')).observe(headline, {
        childList: true,
        characterData: true,
        subtree: true,
      });
    });
    await page.getByRole('button', { name: 'Run' }).click();
    await expect.poll(() => streamText(page, 'stdout'), DOCKER).toContain('line 5\n');
    const connections = relay.connections;
    await relay.cut();
    await ended(page);
    const lines = Array.from({ length: 30 }, (_, i) => `line ${i + 1}\n`).join('');
    expect(await page.locator('#run-output').textContent()).toBe(lines);
    expect(await headline(page)).toBe('Exit code 0');
    expect(await page.locator('#run-status').getAttribute('data-tone')).toBe('ok');
    // Shown live and resumed, not replaced by the result's whole streams at the end.
    expect(await page.locator('#run-note').isHidden()).toBe(true);
    expect(await page.locator('#notice').isHidden()).toBe(true);
    const seen = await page.evaluate(() => (window as unknown as { headlines: string[] }).headlines);
    expect(seen).toContain('Reconnecting…');
    expect(seen.slice(seen.indexOf('Reconnecting…'))).toContain('Running…');
    expect(relay.connections).toBeGreaterThan(connections);
    await shot(page, 'resumed');
    expect(problems).toEqual([]);
  });

  it('works in a narrow window: everything stacks, nothing scrolls sideways', async () => {
    const { page, problems } = await open(openUrl, { viewport: NARROW });
    await page.getByRole('textbox', { name: 'Stdin' }).fill('Ada');
    await page.getByRole('checkbox', { name: 'Session' }).check();
    await page.getByRole('textbox', { name: 'Code' }).click();
    await page.keyboard.press('Control+Enter');
    await ended(page);
    expect(await streamText(page, 'stdout')).toBe('Hello, Ada!\nThe sum of 1..10 is 55\n');
    await expect.poll(() => page.locator('#file-list').getAttribute('aria-busy'), DOCKER).toBe('false');
    expect(await overflows(page)).toBe(false);
    // Stacked: the output is below the editor, the same width.
    const editorBox = await page.locator('#editor').boundingBox();
    const outputBox = await output(page).boundingBox();
    expect(outputBox?.y).toBeGreaterThan((editorBox?.y ?? 0) + (editorBox?.height ?? 0));
    await shot(page, 'narrow', true);
    expect(problems).toEqual([]);
  });
});
