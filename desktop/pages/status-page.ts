/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The status window: what the donor does and why, the owner's controls, the figures (jobs and CPU
// time donated, today and in all), the running jobs with their elapsed time (ticking), the
// gateway connection, a Docker problem with how to fix it, and the recent log. Live: every
// status main pushes is rendered; a one-second tick keeps elapsed times and countdowns moving.
import type { DesktopStatus } from '../ipc-api.js';
import type { PausePreset } from '../pause-until.js';
import { controls, statusLine, tone } from '../status-summary.js';
import {
  formatClock,
  formatConnection,
  formatCount,
  formatCpu,
  formatElapsed,
  shortGateway,
} from './format.js';
import { bridge, byId, errorText, h, showError } from './page-kit.js';

const SETUP_TITLES: Record<NonNullable<DesktopStatus['setup']>['kind'], string> = {
  not_enrolled: 'Set up this computer',
  settings_damaged: 'Your settings file is damaged',
  token_unavailable: 'The token cannot be read',
  engine_failed: 'The donor stopped',
};

const TONE_LABELS = {
  donating: 'Donating',
  waiting: 'Waiting',
  owner: 'Paused by you',
  problem: 'Needs attention',
  stopped: 'Stopped',
} as const;

/** Log lines shown, newest first. */
const LOG_LINES = 12;

let current: DesktopStatus | null = null;

function render(status: DesktopStatus): void {
  current = status;
  const donor = status.donor;
  const now = Date.now();
  const chip = byId('chip');
  chip.dataset.tone = tone(status);
  chip.textContent = TONE_LABELS[tone(status)];
  byId('headline').textContent = statusLine(status, now);
  byId('reason').textContent = status.setup ? '' : sentence(donor.reason_text);

  const can = controls(status);
  for (const id of ['pause-hour', 'pause-tomorrow', 'pause-indefinitely']) {
    byId<HTMLButtonElement>(id).disabled = !can.pause;
  }
  byId<HTMLButtonElement>('finish').disabled = !can.finish;
  byId<HTMLButtonElement>('resume').disabled = !can.resume;

  const setup = byId('setup');
  setup.hidden = status.setup === null;
  if (status.setup) {
    byId('setup-title').textContent = SETUP_TITLES[status.setup.kind];
    byId('setup-text').textContent = status.setup.text;
  }
  const engine = byId('engine');
  engine.hidden = donor.engine_problem === null;
  byId('engine-text').textContent = donor.engine_problem ?? '';

  byId('jobs-today').textContent = formatCount(donor.jobs_today);
  byId('jobs-total').textContent = `${formatCount(donor.jobs_done)} in all`;
  byId('cpu-today').textContent = formatCpu(donor.cpu_seconds_today);
  byId('cpu-total').textContent = `${formatCpu(donor.cpu_seconds)} in all`;
  byId('running').textContent = `${donor.running}`;
  byId('slots').textContent =
    donor.caps.slots > 0
      ? `${donor.caps.slots} ${donor.caps.slots === 1 ? 'slot' : 'slots'}, ${donor.caps.memory_mb} MiB each`
      : 'none allowed now';
  byId('gateway').textContent = donor.connection.gateway
    ? shortGateway(donor.connection.gateway)
    : 'no gateway yet';
  byId('gateway').title = donor.connection.gateway;

  const jobs = byId('jobs-body');
  jobs.replaceChildren(
    ...donor.jobs.map((job) =>
      h(
        'tr',
        {},
        h('td', { class: 'mono' }, job.id),
        h('td', {}, h('span', { class: 'lang' }, job.lang)),
        h(
          'td',
          { class: 'num mono', 'data-started': String(job.started_at) },
          formatElapsed(now - job.started_at),
        ),
      ),
    ),
  );
  byId('no-jobs').hidden = donor.jobs.length > 0;
  byId('jobs-table').hidden = donor.jobs.length === 0;

  const log = [...donor.log].reverse().slice(0, LOG_LINES);
  byId('log-body').replaceChildren(
    ...log.map((entry) =>
      h(
        'tr',
        { 'data-level': entry.level },
        h('td', { class: 'mono muted' }, formatClock(entry.at)),
        h('td', {}, h('span', { class: `level level-${entry.level}` }, entry.level)),
        h('td', {}, entry.msg),
      ),
    ),
  );
  byId('no-log').hidden = log.length > 0;
  tick();
}

/** Once a second: elapsed times, the retry countdown, a pause's end as the clock moves. */
function tick(): void {
  if (!current) return;
  const now = Date.now();
  for (const cell of document.querySelectorAll<HTMLElement>('[data-started]')) {
    cell.textContent = formatElapsed(now - Number(cell.dataset.started));
  }
  byId('headline').textContent = statusLine(current, now);
  byId('connection').textContent = formatConnection(current.donor, now);
}

function sentence(text: string): string {
  return text ? `${text.charAt(0).toUpperCase()}${text.slice(1)}${/[.!?]$/.test(text) ? '' : '.'}` : '';
}

/** Runs an owner's action; its answer (the new status) is rendered at once. */
function act(action: () => Promise<DesktopStatus | undefined>): void {
  showError(null);
  action().then(
    (status) => status && render(status),
    (err: unknown) => showError(errorText(err)),
  );
}

function main(): void {
  const api = bridge();
  const pause = (preset: PausePreset) => () => act(() => api.pause(preset));
  byId('pause-hour').addEventListener('click', pause('hour'));
  byId('pause-tomorrow').addEventListener('click', pause('tomorrow'));
  byId('pause-indefinitely').addEventListener('click', pause('indefinitely'));
  byId('finish').addEventListener('click', () => act(() => api.finish()));
  byId('resume').addEventListener('click', () => act(() => api.resume()));
  for (const id of ['open-settings', 'setup-open-settings']) {
    byId(id).addEventListener('click', () => act(() => api.openWindow('settings').then(() => undefined)));
  }
  api.onStatus(render);
  api.getStatus().then(render, (err: unknown) => showError(errorText(err)));
  setInterval(tick, 1000);
}

try {
  main();
} catch (err) {
  showError(errorText(err));
}
