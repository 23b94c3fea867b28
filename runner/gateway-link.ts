// The runner's connection to its gateway, and what each of its events means for the runner: a
// welcome re-syncs what changed and sends the results that waited; a lost socket ends the
// sessions (they never outlive it); frames go to the runner's rules (runner-frames.ts).
import type { Logger } from '../shared/index.js';
import { parseGatewayUrls } from './connection/gateway-choice.js';
import { GatewayConnection } from './connection/gateway-connection.js';
import type { HeldJobs } from './held-jobs.js';
import type { RunnerEvents } from './runner-events.js';
import type { RunnerFrames } from './runner-frames.js';
import type { RunnerOptions } from './runner-options.js';
import type { RunnerPresence } from './runner-presence.js';
import type { RunnerSessions } from './sessions/runner-sessions.js';

export type Emit = <K extends keyof RunnerEvents & string>(event: K, payload: RunnerEvents[K]) => void;

export interface LinkParts {
  options: Pick<RunnerOptions, 'gatewayUrl' | 'minBackoffMs' | 'maxBackoffMs' | 'gatewayCa'>;
  name: string;
  log: Logger;
  presence: RunnerPresence;
  frames: RunnerFrames;
  jobs: HeldJobs;
  sessions: RunnerSessions;
  emit: Emit;
  /** Welcomed: a draining runner whose results are all out may stop now. */
  welcomed: () => void;
}

export function linkGateway(parts: LinkParts): GatewayConnection {
  const { options, log, presence, jobs, sessions, emit } = parts;
  const connection = new GatewayConnection({
    gatewayUrls: parseGatewayUrls(options.gatewayUrl, 'gatewayUrl'),
    log,
    minBackoffMs: options.minBackoffMs,
    maxBackoffMs: options.maxBackoffMs,
    ...(options.gatewayCa === undefined ? {} : { ca: options.gatewayCa }),
    hello: () => presence.hello(),
  });
  connection.on('welcome', (welcome) => {
    // Operators (and the fault tests) wait for this line.
    log.info({ gateway: connection.gatewayUrl }, 'connected to the gateway');
    presence.welcomed();
    jobs.flush();
    emit('connection', { state: 'connected', gateway: connection.gatewayUrl, runner_id: welcome.runner_id });
    emit('ready', { runner_id: welcome.runner_id });
    parts.welcomed();
  });
  connection.on('frame', (frame) => parts.frames.handle(frame));
  connection.on('heartbeat', () => connection.send({ type: 'heartbeat', jobs: jobs.heartbeatJobs() }));
  // A session cannot outlive its socket: the gateway ends its side, so the runner ends its own.
  connection.on('disconnected', ({ gateway, code, reason }) => {
    jobs.newSocket();
    sessions.endAll();
    emit('connection', { state: 'disconnected', gateway, code, reason });
  });
  connection.on('retrying', ({ gateway, in_ms }) =>
    emit('connection', { state: 'retrying', gateway, in_ms }),
  );
  connection.on('fatal', (err) => {
    log.error({ err }, 'the gateway refused this runner');
    emit('fatal', err);
  });
  return connection;
}
