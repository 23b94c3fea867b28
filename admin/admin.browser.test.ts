// The operator's dashboard in a real browser, on a real gateway with a real runner: the page is
// built with the build's own config (tsup.config.ts `webPages`) into a temporary web root that
// the gateway serves at /admin, and opened in headless Chromium. It asks for the admin key (and
// refuses a wrong one), shows the runner, then jobs run through REST appear live, the queue moves
// while the runner is paused, a runner that stops shows disconnected, and a gateway that goes
// away is reconnected to. Screenshots go to test-results/screenshots/ for people to look at.
/// <reference lib="dom" />
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { build } from 'tsup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runner } from '../runner/runner.js';
import { launchChromium, pageProblems, SCREENSHOTS } from '../test/browser.js';
import { post, startGateway, startRunner, teardown, tempDir } from '../test/helpers.js';
import { webPages } from '../tsup.config.js';

const ADMIN_KEY = 'operator-key-for-the-browser';
const KEY_STORAGE = 'codeexec.admin.key';
const DESKTOP = { width: 1280, height: 860 };
const NARROW = { width: 390, height: 844 };

let webRoot = '';
let url = '';
let runner: Runner;
let runnerToken = '';
let browser: Browser | null = null;

beforeAll(async () => {
  const page = webPages.find((options) => options.name === 'web-admin');
  if (!page) throw new Error('tsup.config.ts has no web-admin page');
  webRoot = await tempDir();
  await build({ ...page, outDir: join(webRoot, 'admin'), silent: true, config: false });
  const gw = await startGateway({ adminKeys: [ADMIN_KEY], webRoot, queueTimeoutMs: 60_000 });
  url = gw.url;
  runnerToken = gw.token;
  runner = await startRunner({
    gatewayUrl: url,
    token: runnerToken,
    slots: 2,
    languages: ['python', 'bash'],
  });
  await runner.connected();
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close().catch(() => {});
});

/** The dashboard at `base`/admin in a fresh browser context; `key` pre-stored when given. */
async function open(
  base: string,
  {
    key = null,
    viewport = DESKTOP,
  }: { key?: string | null; viewport?: { width: number; height: number } } = {},
): Promise<{ page: Page; problems: string[] }> {
  if (!browser) throw new Error('no browser');
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.on('close', () => void context.close());
  const problems = await pageProblems(page);
  await page.addInitScript(
    ([storage, stored]) => {
      if (stored !== null && !sessionStorage.getItem('seeded')) {
        localStorage.setItem(storage, stored);
        sessionStorage.setItem('seeded', '1');
      }
    },
    [KEY_STORAGE, key] as const,
  );
  await page.goto(`${base}/admin`);
  return { page, problems };
}

/** Polls until it holds: the page follows the gateway's frames, jobs take the time they take. */
const eventually = <T>(read: () => Promise<T>, timeout = 15_000) => expect.poll(read, { timeout });
const text = async (page: Page, selector: string) =>
  ((await page.locator(selector).textContent()) ?? '').trim();
const connection = (page: Page) => text(page, '#connection-text');
const runnerCell = (page: Page, name: string, column: string) =>
  text(page, `tr[data-runner="${name}"] td[data-col="${column}"]`);
const jobCell = (page: Page, id: string, column: string) =>
  text(page, `tr[data-job-id="${id}"] td[data-col="${column}"]`);
const depth = (page: Page, lang: string) => text(page, `#queue-body tr[data-lang="${lang}"] .depth`);
const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(SCREENSHOTS, `admin-${name}.png`), fullPage: true });

describe("the operator's dashboard", () => {
  it('asks for the admin key, refuses a wrong one, then shows the runner with its tier and languages', async () => {
    const { page, problems } = await open(url);
    await eventually(() => connection(page)).toBe('Admin key needed');
    expect(await page.locator('#key-form').isVisible()).toBe(true);
    expect(await text(page, '#key-message')).toMatch(/needs an admin key/);
    expect(await page.locator('#key-cancel').isHidden()).toBe(true);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('key-input');
    await shot(page, 'key');

    await page.fill('#key-input', 'not-the-key');
    await page.press('#key-input', 'Enter');
    await eventually(() => connection(page)).toBe('Key refused');
    expect(await text(page, '#key-message')).toMatch(/refused this key/);
    expect(await page.locator('#key-form').isVisible()).toBe(true);

    await page.fill('#key-input', ADMIN_KEY);
    await page.click('#key-form button[type="submit"]');
    await eventually(() => connection(page)).toBe('Live');
    expect(await page.locator('#key-form').isHidden()).toBe(true);
    expect(await page.evaluate((k) => localStorage.getItem(k), KEY_STORAGE)).toBe(ADMIN_KEY);
    await eventually(() => runnerCell(page, runner.name, 'Tier')).toBe('trusted');
    expect(await runnerCell(page, runner.name, 'State')).toBe('connected');
    expect(await runnerCell(page, runner.name, 'Languages')).toBe('bashpython');
    expect(await page.locator(`tr[data-runner="${runner.name}"] .lang`).allTextContents()).toEqual([
      'bash',
      'python',
    ]);
    expect(await runnerCell(page, runner.name, 'Slots used')).toBe('0 / 2');
    expect(await runnerCell(page, runner.name, 'Last heartbeat')).toMatch(/^(now|\d+ s ago)$/);
    // Accessible: named regions and captioned tables.
    for (const name of ['Runners', 'Queue', 'Recent jobs']) {
      expect(await page.getByRole('region', { name }).count()).toBe(1);
    }
    expect(await page.locator('table caption').count()).toBe(3);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows jobs run through REST live, with status and timings, without reloading', async () => {
    const { page, problems } = await open(url, { key: ADMIN_KEY });
    await eventually(() => connection(page)).toBe('Live');
    await page.evaluate(() => {
      (window as unknown as { stillHere: boolean }).stillHere = true;
    });
    const jobs = [
      { lang: 'python', code: 'print(6*7)' },
      { lang: 'bash', code: 'echo hi; exit 3' },
      { lang: 'python', code: 'import time; time.sleep(0.3); print("slept")' },
    ];
    const ids: string[] = [];
    for (const job of jobs) {
      const res = await post(`${url}/execute/code`, job);
      expect(res.status).toBe(200);
      ids.push(res.body.id);
    }
    for (const id of ids) {
      await eventually(() => page.getAttribute(`tr[data-job-id="${id}"]`, 'data-status')).toBe('done');
    }
    expect(await jobCell(page, ids[0]!, 'Status')).toBe('done');
    expect(await jobCell(page, ids[1]!, 'Status')).toBe('exit 3');
    expect(await jobCell(page, ids[1]!, 'Language')).toBe('bash');
    expect(await jobCell(page, ids[2]!, 'Runner')).toBe(runner.name);
    for (const column of ['Queue wait', 'Run time', 'Total']) {
      expect(await jobCell(page, ids[2]!, column)).toMatch(/^\d+(\.\d)? (ms|s)$/);
    }
    // Newest first.
    const order = await page
      .locator('#jobs-body tr')
      .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-job-id')));
    expect(order.slice(0, 3)).toEqual([...ids].reverse());
    await eventually(async () =>
      Number(await runnerCell(page, runner.name, 'Jobs done')),
    ).toBeGreaterThanOrEqual(3);
    expect(await page.evaluate(() => (window as unknown as { stillHere?: boolean }).stillHere)).toBe(true);
    await shot(page, 'desktop');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('moves the queue depth while jobs wait for a paused runner, also in a narrow window', async () => {
    const { page, problems } = await open(url, { key: ADMIN_KEY, viewport: NARROW });
    await eventually(() => connection(page)).toBe('Live');
    await eventually(() => depth(page, 'python')).toBe('0');
    runner.pause();
    await eventually(() => runnerCell(page, runner.name, 'State')).toBe('paused');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await post(`${url}/execute/async`, { lang: 'python', code: `print(${i})` });
      expect(res.status).toBe(202);
      ids.push(res.body.id);
    }
    await eventually(() => depth(page, 'python')).toBe('3');
    expect(await text(page, '#total-queued')).toBe('3');
    for (const id of ids) expect(await jobCell(page, id, 'Status')).toBe('queued');
    // A waiting job's queue wait counts up on the page's clock.
    expect(
      await page.getAttribute(`tr[data-job-id="${ids[0]}"] td[data-col="Queue wait"]`, 'class'),
    ).toContain('live');
    // Narrow: no sideways scrolling, each job a small card.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(NARROW.width);
    await shot(page, 'narrow');
    await page.setViewportSize(DESKTOP);
    await shot(page, 'queue');

    runner.resume();
    await eventually(() => depth(page, 'python')).toBe('0');
    for (const id of ids) {
      await eventually(() => page.getAttribute(`tr[data-job-id="${id}"]`, 'data-status')).toBe('done');
    }
    expect(await runnerCell(page, runner.name, 'State')).toBe('connected');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows a runner that stops as disconnected', async () => {
    const { page, problems } = await open(url, { key: ADMIN_KEY });
    await eventually(() => connection(page)).toBe('Live');
    const second = await startRunner({
      gatewayUrl: url,
      token: runnerToken,
      slots: 1,
      languages: ['bash'],
      minWarm: 0,
    });
    await second.connected();
    await eventually(() => runnerCell(page, second.name, 'State')).toBe('connected');
    await second.close();
    await eventually(() => runnerCell(page, second.name, 'State')).toBe('disconnected');
    expect(await runnerCell(page, second.name, 'Last heartbeat')).toMatch(/^left (now|\d+ s ago)$/);
    expect(await page.getAttribute(`tr[data-runner="${second.name}"]`, 'class')).toBe('gone');
    expect(await runnerCell(page, runner.name, 'State')).toBe('connected');
    await shot(page, 'runner-left');
    expect(problems).toEqual([]);
    await page.close();
  });
});

/**
 * A TCP relay to the gateway on a port of its own: `down()` cuts every connection through it and
 * refuses new ones (the gateway is gone, as the browser sees it) until `up()`.
 */
async function relay(port: number): Promise<{ url: string; down(): void; up(): void }> {
  const sockets = new Set<Socket>();
  let open = true;
  const server = createServer((client) => {
    if (!open) {
      client.destroy();
      return;
    }
    const upstream = connect(port, '127.0.0.1');
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      sockets.add(a);
      a.pipe(b);
      a.on('error', () => b.destroy());
      a.on('close', () => {
        sockets.delete(a);
        b.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    down() {
      open = false;
      for (const socket of sockets) socket.destroy();
    },
    up() {
      open = true;
    },
  };
}

describe('the connection', () => {
  it('reconnects, with a backoff, when the gateway goes away and comes back', async () => {
    // A gateway of its own without admin keys (loopback callers need none), through a relay.
    const gw = await startGateway({ webRoot });
    const link = await relay(gw.gateway.port);
    const own = await startRunner({ gatewayUrl: gw.url, token: gw.token, languages: ['bash'], minWarm: 0 });
    await own.connected();
    const { page, problems } = await open(link.url);
    await eventually(() => connection(page)).toBe('Live');
    expect(await page.locator('#key-form').isHidden()).toBe(true);
    await eventually(() => runnerCell(page, own.name, 'State')).toBe('connected');
    expect(await page.locator('#stale').isHidden()).toBe(true);

    link.down();
    await eventually(() => connection(page)).toMatch(/^Reconnecting in \d+ s$/);
    expect(await page.getAttribute('#connection', 'data-state')).toBe('reconnecting');
    expect(await text(page, '#stale')).toMatch(/^Lost the connection to the gateway: .*\(1006\)\./);
    // What it last knew stays on the page, dimmed.
    expect(await runnerCell(page, own.name, 'State')).toBe('connected');
    // The backoff grows while the gateway stays away: a wait of a few seconds shows.
    await eventually(() => connection(page), 20_000).toMatch(/^Reconnecting in ([2-9]|1\d) s$/);
    await shot(page, 'reconnecting');

    link.up();
    await eventually(() => connection(page), 30_000).toBe('Live');
    expect(await page.locator('#stale').isHidden()).toBe(true);
    expect(await runnerCell(page, own.name, 'State')).toBe('connected');
    // The only errors are the browser's own lines about the connections it could not make.
    expect(problems.filter((line) => !/WebSocket connection to .* failed/.test(line))).toEqual([]);
    await page.close();
  });
});
