// End to end through TLS and a real reverse proxy: the shipped nginx configuration
// (deploy/nginx/codeexec.conf) and Caddyfile (deploy/caddy/Caddyfile), each run as a private
// instance on loopback with a self-signed certificate, in front of a real gateway, with a real
// runner dialling wss:// through it. nginx gets a 3 s proxy_read_timeout: a job that prints
// nothing for 6 s still streams its output and ends, and a runner idle for longer stays
// connected, because the gateway and the runner ping (pingMs 1 s). Caddy keeps its defaults.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { connect } from 'node:net';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Runner } from '../runner/runner.js';
import { freePort, startGateway, startRunner, teardown, tempDir } from './helpers.js';

const REPO = new URL('..', import.meta.url).pathname;
const NGINX = '/usr/sbin/nginx';
const CADDY = '/usr/bin/caddy';
/** nginx's proxy_read_timeout here, seconds: far below the quiet job's 6 s. */
const PROXY_TIMEOUT_S = 3;
const PING_MS = 1000;

/** Resolves once something accepts TCP connections on the port (the proxy is up), or throws. */
async function untilListening(port: number, child: ChildProcess, log: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the proxy exited (${child.exitCode}): ${await log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`the proxy did not listen on ${port}: ${await log()}`);
    // A process starting up has no event to wait on from here: retry the connect shortly.
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Starts `command` in the background; teardown stops it by its pid. */
function daemon(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  (child as ChildProcess & { output: () => string }).output = () => output;
  teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  });
  return child;
}

/** A self-signed certificate for localhost and 127.0.0.1, and its key, in `dir`. */
function selfSigned(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-days',
      '1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

/** Replaces `from` in `text`, failing loudly when the shipped file no longer has it. */
function substitute(text: string, from: string | RegExp, to: string): string {
  const replaced = text.replace(from, to);
  if (replaced === text) throw new Error(`the shipped configuration no longer contains ${from}`);
  return replaced;
}

/** nginx with deploy/nginx/codeexec.conf, changed only where a private test instance must be. */
async function startNginx(dir: string, upstreamPort: number, tls: { cert: string; key: string }) {
  const port = await freePort();
  const redirectPort = await freePort();
  let site = await readFile(join(REPO, 'deploy/nginx/codeexec.conf'), 'utf8');
  site = substitute(site, 'server 127.0.0.1:8080;', `server 127.0.0.1:${upstreamPort};`);
  site = substitute(site, /^\s*listen \[::\]:.*$/gm, '');
  site = substitute(site, 'listen 80;', `listen 127.0.0.1:${redirectPort};`);
  site = substitute(site, 'listen 443 ssl http2;', `listen 127.0.0.1:${port} ssl http2;`);
  site = substitute(site, '/etc/ssl/codeexec/fullchain.pem', tls.cert);
  site = substitute(site, '/etc/ssl/codeexec/privkey.pem', tls.key);
  site = substitute(site, 'proxy_read_timeout 1h;', `proxy_read_timeout ${PROXY_TIMEOUT_S}s;`);
  site = substitute(site, 'proxy_send_timeout 1h;', `proxy_send_timeout ${PROXY_TIMEOUT_S}s;`);
  // What /etc/nginx/nginx.conf would give: the events and http blocks, with every path nginx
  // writes in the temporary directory (no root-owned paths).
  const conf = `
worker_processes 1;
events { worker_connections 256; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${site}
}
`;
  const confPath = join(dir, 'nginx.conf');
  await writeFile(confPath, conf);
  const child = daemon(NGINX, [
    '-p',
    dir,
    '-c',
    confPath,
    '-g',
    `daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;`,
  ]);
  await untilListening(port, child, () => readFile(join(dir, 'error.log'), 'utf8').catch(() => ''));
  return { port, conf };
}

/** Caddy with deploy/caddy/Caddyfile: the site on a loopback port with the test's certificate. */
async function startCaddy(dir: string, upstreamPort: number, tls: { cert: string; key: string }) {
  const port = await freePort();
  let site = await readFile(join(REPO, 'deploy/caddy/Caddyfile'), 'utf8');
  site = substitute(
    site,
    'codeexec.example.org {',
    `https://127.0.0.1:${port} {\n\ttls ${tls.cert} ${tls.key}`,
  );
  site = substitute(site, 'reverse_proxy 127.0.0.1:8080', `reverse_proxy 127.0.0.1:${upstreamPort}`);
  // No admin endpoint, no port 80, nothing in the system's trust store or in ~/.local.
  const global = `{\n\tadmin off\n\tauto_https disable_redirects\n\tskip_install_trust\n\tstorage file_system ${dir}/data\n}\n`;
  const confPath = join(dir, 'Caddyfile');
  await writeFile(confPath, global + site);
  const child = daemon(CADDY, ['run', '--config', confPath, '--adapter', 'caddyfile'], {
    ...process.env,
    HOME: dir,
    XDG_DATA_HOME: join(dir, 'data'),
    XDG_CONFIG_HOME: join(dir, 'config'),
  });
  const output = async () => (child as ChildProcess & { output: () => string }).output();
  await untilListening(port, child, output);
  return { port };
}

/** GET or POST over https, trusting `ca`. */
function https(
  url: string,
  ca: string,
  body?: unknown,
): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        ca,
        method: body === undefined ? 'GET' : 'POST',
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/**
 * GETs a server-sent-events stream over https, noting when each event arrived, until the
 * response ends.
 */
function eventsOver(
  url: string,
  ca: string,
): Promise<{ status: number; events: { text: string; at: number }[] }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca }, (res) => {
      const events: { text: string; at: number }[] = [];
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          events.push({ text: buffer.slice(0, end), at: Date.now() });
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf('\n\n');
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, events }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

// biome-ignore lint/suspicious/noExplicitAny: frames are checked by the assertions that read them
type Frame = Record<string, any>;

/** Runs `code` over wss:// and collects every frame about it until its exit. */
async function runOverSocket(url: string, ca: string, code: string): Promise<Frame[]> {
  const ws = new WebSocket(url, { ca });
  teardown(() => ws.terminate());
  await once(ws, 'open');
  const frames: Frame[] = [];
  const exited = new Promise<void>((resolve, reject) => {
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      frame.at = Date.now();
      frames.push(frame);
      if (frame.type === 'exit' || frame.type === 'error') resolve();
    });
    ws.on('close', (closeCode) => reject(new Error(`the socket closed (${closeCode}) before the job ended`)));
  });
  ws.send(JSON.stringify({ type: 'execute', id: 'quiet', lang: 'python', code }));
  await exited;
  ws.close(1000);
  return frames;
}

const QUIET_JOB = 'import time\ntime.sleep(6)\nprint("done")';

const proxies = [
  ['nginx', NGINX, startNginx],
  ['caddy', CADDY, startCaddy],
] as const;

describe.each(proxies)('behind %s, over TLS', (name, binary, start) => {
  let base: string;
  let ca: string;
  let runner: Runner;
  const runnerEvents: string[] = [];

  beforeAll(async () => {
    if (!existsSync(binary)) {
      throw new Error(
        `${binary} is missing: scripts/setup.sh installs it (Debian's ${name === 'nginx' ? 'nginx-light' : 'caddy'})`,
      );
    }
    const dir = await tempDir();
    // The proxy's workers may run as another user (nginx's `nobody`): let them into the directory.
    await chmod(dir, 0o755);
    const tls = selfSigned(dir);
    ca = await readFile(tls.cert, 'utf8');
    const gw = await startGateway({ pingMs: PING_MS });
    const proxy = await start(dir, gw.gateway.port, tls);
    base = `https://127.0.0.1:${proxy.port}`;
    runner = await startRunner({ gatewayUrl: base, token: gw.token, gatewayCa: ca, languages: ['python'] });
    await runner.connected();
    // From here on the runner should never lose its link: any connection event is a failure.
    runner.on('connection', (event) => runnerEvents.push(event.state));
  });

  it('answers REST over https', async () => {
    const health = await https(`${base}/execute/health`, ca);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.text)).toEqual({ status: 'ok' });
    const run = await https(`${base}/execute/code`, ca, { lang: 'python', code: 'print(6*7)' });
    expect(run.status).toBe(200);
    expect(JSON.parse(run.text)).toMatchObject({ output: '42\n', exit_code: 0, status: 'done' });
  });

  it(`streams a job that prints nothing for longer than the proxy's timeout (${PROXY_TIMEOUT_S} s)`, async () => {
    const started = Date.now();
    const frames = await runOverSocket(`${base.replace(/^https/, 'wss')}/execute/ws`, ca, QUIET_JOB);
    const stdout = frames.filter((f) => f.type === 'stdout');
    const exit = frames.find((f) => f.type === 'exit');
    expect(stdout.map((f) => f.data).join('')).toBe('done\n');
    expect(exit?.result).toMatchObject({ exit_code: 0, status: 'done', stdout: 'done\n' });
    // The socket was silent (but for pings) for longer than nginx's timeout.
    expect(stdout[0]!.at - started).toBeGreaterThan(PROXY_TIMEOUT_S * 1000);
  });

  it(`streams server-sent events as they happen, through a silence longer than the timeout`, async () => {
    const accepted = await https(`${base}/execute/async`, ca, {
      lang: 'python',
      code: `import sys, time\nprint("first", flush=True)\ntime.sleep(${PROXY_TIMEOUT_S + 3})\nprint("last")`,
    });
    const { id } = JSON.parse(accepted.text) as { id: string };
    const { status, events } = await eventsOver(`${base}/execute/${id}/output`, ca);
    expect(status).toBe(200);
    const first = events.find((e) => e.text.startsWith('event: stdout') && e.text.includes('first'));
    const last = events.find((e) => e.text.startsWith('event: stdout') && e.text.includes('last'));
    const exit = events.find((e) => e.text.startsWith('event: exit'));
    expect(exit?.text).toContain('"exit_code":0');
    // Not buffered by the proxy: the first line arrived seconds before the last one.
    expect(last!.at - first!.at).toBeGreaterThan(PROXY_TIMEOUT_S * 1000);
    // The stream stayed open through the quiet part on heartbeat comments.
    expect(events.filter((e) => e.text.startsWith(':')).length).toBeGreaterThan(PROXY_TIMEOUT_S);
  });

  it('keeps an idle runner connected for longer than the timeout', async () => {
    // The runner has been connected since beforeAll, through the quiet job; now it idles for
    // longer than the timeout (a deliberate wait: the silence is what is tested).
    await new Promise((resolve) => setTimeout(resolve, (PROXY_TIMEOUT_S + 2) * 1000));
    expect(runnerEvents).toEqual([]);
    const run = await https(`${base}/execute/code`, ca, { lang: 'python', code: 'print("still")' });
    expect(JSON.parse(run.text)).toMatchObject({ output: 'still\n', exit_code: 0 });
    expect(runnerEvents).toEqual([]);
  });

  it("loads the playground's page through the proxy", async () => {
    const page = await https(`${base}/`, ca);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.text).toMatch(/<html/i);
  });
});

describe('the timeout nginx is given here is real', () => {
  it(`cuts a socket quiet for ${PROXY_TIMEOUT_S} s when the gateway pings too seldom`, async () => {
    const dir = await tempDir();
    await chmod(dir, 0o755);
    const tls = selfSigned(dir);
    const ca = await readFile(tls.cert, 'utf8');
    // A gateway that pings once a minute: nothing crosses the proxy while the client waits.
    const gw = await startGateway({ pingMs: 60_000 });
    const proxy = await startNginx(dir, gw.gateway.port, tls);
    const ws = new WebSocket(`wss://127.0.0.1:${proxy.port}/execute/ws`, { ca });
    teardown(() => ws.terminate());
    await once(ws, 'open');
    const opened = Date.now();
    await once(ws, 'close');
    expect(Date.now() - opened).toBeGreaterThanOrEqual(PROXY_TIMEOUT_S * 1000 - 500);
    expect(Date.now() - opened).toBeLessThan(PROXY_TIMEOUT_S * 1000 + 5_000);
  });
});
