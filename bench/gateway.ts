// Gateway performance: what the gateway itself adds, without Docker. For each transport
// (uWebSockets.js, ws) a real gateway runs in its own process (`node dist/cli.js gateway`); a
// synthetic runner and client sockets in a load process measure relayed chunks per second and
// the added latency at 1, 100 and 1,000 sockets, and tiny jobs per second; then the gateway's RSS
// growth for 10,000 idle client sockets, beside bare uWebSockets.js and ws servers measured the same way.
// Run: `npm run bench:gateway`. Knobs (environment): see README, "Gateway relay performance".
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBareServer } from './bare-server.js';
import {
  Bench,
  type IdleResult,
  log,
  TRANSPORTS,
  type Transport,
  type TransportResult,
} from './gateway-bench.js';
import { report } from './gateway-report.js';
import { runLoadWorker } from './load-worker.js';

const here = fileURLToPath(new URL('.', import.meta.url));
/** The built CLI beside this built file (dist/bench/gateway.js → dist/cli.js). */
const CLI = join(here, '..', 'cli.js');
const ROOT = join(here, '..', '..');

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npm run build)`);
  const bench = new Bench(fileURLToPath(import.meta.url), CLI);
  // Every child dies with us: at the end, on failure, and on Ctrl-C.
  process.on('exit', () => bench.cleanup());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));
  const loadStart = loadavg()[0]!;
  if (loadStart > cpus().length / 2) {
    log(`the machine is busy (load average ${loadStart.toFixed(1)}): expect noisy figures`);
  }
  const relay = await bench.relayPhase();
  const results = {} as Record<Transport, TransportResult>;
  for (const transport of TRANSPORTS) {
    results[transport] = { ...relay[transport], idle: await bench.idlePhase('gateway', transport) };
  }
  const bare = {} as Record<Transport, IdleResult>;
  for (const kind of TRANSPORTS) bare[kind] = await bench.idlePhase('bare', kind);
  await bench.worker.child.stop();
  process.stdout.write(`\n${report(ROOT, results, bare, { start: loadStart, end: loadavg()[0]! })}\n`);
}

const role = process.argv[2];
if (role === 'load-worker') runLoadWorker();
else if (role === 'bare-server') await runBareServer(process.argv[3] ?? '', Number(process.argv[4]));
else {
  await main().catch((err: unknown) => {
    process.stderr.write(`[bench] failed: ${String((err as Error).stack ?? err)}\n`);
    process.exit(1);
  });
}
