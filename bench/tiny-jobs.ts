// Jobs per second for tiny jobs (one chunk each): what each job costs the gateway besides the
// relay (storing it, the durable write before the offer, the offer, the result).
import { performance } from 'node:perf_hooks';
import type { ClientToGateway, GatewayToClient } from '../shared/index.js';
import { closeSockets, openSockets } from './client-sockets.js';
import { SyntheticRunner, syntheticResult } from './synthetic-runner.js';

export interface TinyJobsParams {
  gatewayUrl: string;
  token: string;
  runnerName: string;
  sockets: number;
  /** Unfinished jobs per socket at once (at most the gateway's MAX_JOBS_PER_SOCKET). */
  perSocket: number;
  jobs: number;
  timeoutMs: number;
}

export interface TinyJobsResult {
  jobs: number;
  seconds: number;
  jobsPerSec: number;
}

export async function tinyJobs(params: TinyJobsParams): Promise<TinyJobsResult> {
  const result = syntheticResult(1);
  const runner = await SyntheticRunner.connect({
    gatewayUrl: params.gatewayUrl,
    token: params.token,
    name: params.runnerName,
    slots: Math.min(1024, params.sockets * params.perSocket),
    onJob: (job) => {
      runner.output(job.id, 0, 'x\n');
      runner.done(job.id, result);
    },
  });
  const wsUrl = `${params.gatewayUrl.replace(/^http/, 'ws')}/execute/ws`;
  const clients = await openSockets(wsUrl, params.sockets);
  let submitted = 0;
  let ended = 0;
  const t0 = performance.now();
  const outcome = new Promise<TinyJobsResult>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`tiny jobs: ${ended}/${params.jobs} ended within ${params.timeoutMs} ms`)),
      params.timeoutMs,
    );
    const submit = (ws: (typeof clients)[number]): void => {
      if (submitted >= params.jobs) return;
      const frame: ClientToGateway = {
        type: 'execute',
        id: `t${submitted++}`,
        lang: 'python',
        code: '# bench',
        interactive: false,
      };
      ws.send(JSON.stringify(frame));
    };
    for (const ws of clients) {
      ws.on('message', (raw) => {
        const frame = JSON.parse(raw.toString()) as GatewayToClient;
        if (frame.type === 'error' || (frame.type === 'exit' && frame.result.status !== 'done')) {
          clearTimeout(timer);
          reject(new Error(`tiny jobs: ${JSON.stringify(frame).slice(0, 300)}`));
          return;
        }
        if (frame.type !== 'exit') return;
        if (++ended === params.jobs) {
          clearTimeout(timer);
          const seconds = (performance.now() - t0) / 1000;
          resolve({ jobs: ended, seconds, jobsPerSec: ended / seconds });
          return;
        }
        submit(ws);
      });
      for (let i = 0; i < params.perSocket; i++) submit(ws);
    }
  });
  try {
    return await outcome;
  } finally {
    await closeSockets(clients);
    await runner.close();
  }
}
