// The gateway benchmark's printed tables: per transport, the ratios, and the targets.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import {
  config,
  type IdleResult,
  LEVELS,
  TRANSPORT_NAMES,
  TRANSPORTS,
  type Transport,
  type TransportResult,
} from './gateway-bench.js';

function packageVersion(root: string, name: string): string {
  try {
    const file = join(root, 'node_modules', name, 'package.json');
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name: string; version: string };
    return pkg.name === name ? pkg.version : `${pkg.name}@${pkg.version}`;
  } catch {
    return 'unknown';
  }
}

const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);
export const int = (value: number): string => Math.round(value).toLocaleString('en-US');

/** Columns right-aligned to their widest cell, two spaces apart. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padStart(widths[i]!)).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

/** `root`: the repository, for the installed versions of uWebSockets.js and ws. */
export function report(
  root: string,
  results: Record<Transport, TransportResult>,
  bare: Record<Transport, IdleResult>,
  load: { start: number; end: number },
): string {
  const out: string[] = [];
  out.push(
    `Gateway relay benchmark: node ${process.version}, ${cpus().length} CPUs, ` +
      `uWebSockets.js ${packageVersion(root, 'uWebSockets.js')}, ws ${packageVersion(root, 'ws')}; ` +
      `load average ${load.start.toFixed(1)} at the start, ${load.end.toFixed(1)} at the end`,
    `msgs/s: N sockets, one job each, chunks of ${config.chunkBytes} B for ${config.seconds} s, at most ` +
      `${config.jobWindow} per job and ${int(config.globalWindow)} in all in flight. p50/p99: runner send → ` +
      `client receive at ${int(config.latencyRate)} chunks/s. Medians of ${config.rounds} rounds.`,
    'CPU: 100% = one core. µs/msg: CPU time per relayed chunk. load: the runner + clients process ' +
      '(when it needs less per chunk than the gateway, msgs/s measures the gateway).',
  );
  for (const transport of TRANSPORTS) {
    const { levels, tiny, idle } = results[transport];
    out.push('', `${transport} (${TRANSPORT_NAMES[transport]})`);
    out.push(
      table(
        [
          'sockets',
          'msgs/s',
          'p50 ms',
          'p99 ms',
          'dropped',
          'gateway CPU',
          'µs/msg',
          'load CPU',
          'load µs/msg',
        ],
        levels.map(({ saturated: s, paced: p }) => [
          int(s.sockets),
          int(s.msgsPerSec),
          p.p50Ms.toFixed(2),
          p.p99Ms.toFixed(2),
          int(s.dropped + p.dropped),
          `${s.gatewayCpuPct.toFixed(0)}%`,
          s.gatewayUsPerMsg.toFixed(1),
          `${s.loadCpuPct.toFixed(0)}%`,
          s.loadUsPerMsg.toFixed(1),
        ]),
      ),
    );
    out.push(
      `tiny jobs (one chunk each; ${config.tinySockets} sockets × ${config.tinyPerSocket} at once): ` +
        `${int(tiny.jobsPerSec)} jobs/s`,
      `${int(config.idleSockets)} idle client sockets: RSS ${mb(idle.before)} → ${mb(idle.after)} MB ` +
        `(+${mb(idle.after - idle.before)} MB)`,
    );
  }
  out.push('', 'uWebSockets.js ÷ ws (target ≥ 2 in msgs/s):');
  LEVELS.forEach((sockets, i) => {
    const uws = results.uws.levels[i]!.saturated;
    const ws = results.ws.levels[i]!.saturated;
    const ratio = uws.msgsPerSec / ws.msgsPerSec;
    out.push(
      `  ${int(sockets).padStart(5)} sockets: msgs/s ${ratio.toFixed(2)}× (${ratio >= 2 ? 'met' : 'NOT met'}); ` +
        `gateway CPU per msg ${(ws.gatewayUsPerMsg / uws.gatewayUsPerMsg).toFixed(2)}× less`,
    );
  });
  const growth = (idle: IdleResult) => idle.after - idle.before;
  const uwsGrowth = growth(results.uws.idle);
  const verdict =
    config.idleSockets !== 10_000 ? 'not judged here' : uwsGrowth <= 25 * 1024 * 1024 ? 'met' : 'NOT met';
  out.push(
    '',
    `RSS growth for ${int(config.idleSockets)} idle client sockets:`,
    `  gateway, uWebSockets.js: +${mb(uwsGrowth)} MB (target for 10,000 sockets ≤ 25 MB: ${verdict})`,
    `  gateway, ws:             +${mb(growth(results.ws.idle))} MB`,
    `  bare uWebSockets.js:     +${mb(growth(bare.uws))} MB`,
    `  bare ws:                 +${mb(growth(bare.ws))} MB`,
  );
  return out.join('\n');
}
