/// <reference lib="dom" />
// Draws the dashboard from its state: the totals, the runners table, the queue's bars, the recent
// jobs. Called on every frame (once per animation frame at most) and every second, so ages and the
// timings of waiting and running jobs move on the page's own clock between frames.

import { byId, h } from '../../shared/dom.js';
import { type DashboardState, queueRows, totals, visibleRunners } from './dashboard-state.js';
import {
  formatAge,
  formatDuration,
  heartbeat,
  jobBadge,
  jobTimings,
  runnerState,
  shortId,
  type Timing,
} from './format.js';

/** A cell with its column's name, which a narrow window shows beside the value (admin.css). */
const cell = (
  column: string,
  attributes: Record<string, string | undefined>,
  ...children: (Node | string)[]
) => h('td', { 'data-col': column, ...attributes }, ...children);

const badge = ({ label, tone }: { label: string; tone: string }) =>
  h('span', { class: 'badge', 'data-tone': tone }, label);

/** A bar as long as `share` of its cell (a custom property: no inline style attribute). */
function bar(share: number): HTMLElement {
  const element = h('span', { class: 'bar' });
  element.style.setProperty('--share', share.toFixed(3));
  return element;
}

const timing = (column: string, { ms, live }: Timing) =>
  cell(column, { class: live ? 'num live' : 'num' }, formatDuration(ms));

/** The line an empty table leaves: what is missing, or that nothing came yet. */
function empty(id: string, state: DashboardState, rows: number, none: string): void {
  const line = byId(id);
  line.hidden = rows > 0;
  line.textContent = state.synced ? none : 'Nothing received from the gateway yet.';
}

export function render(state: DashboardState, localNow: number): void {
  const now = localNow + state.skewMs;
  renderTotals(state);
  renderRunners(state, now);
  renderQueue(state);
  renderJobs(state, now);
}

function renderTotals(state: DashboardState): void {
  if (!state.synced) return;
  const sum = totals(state);
  byId('total-runners').textContent = String(sum.runners);
  byId('total-runners-sub').textContent = 'connected';
  byId('total-slots').textContent = `${sum.used} / ${sum.slots}`;
  byId('total-slots-sub').textContent = `${sum.slots - sum.used} free`;
  byId('total-queued').textContent = String(sum.queued);
  byId('total-queued-sub').textContent = sum.queued === 1 ? 'job for a runner' : 'jobs for a runner';
}

function renderRunners(state: DashboardState, now: number): void {
  const rows = visibleRunners(state, now);
  byId('runners-body').replaceChildren(
    ...rows.map((row) => {
      const beat = heartbeat(row, now, state.heartbeatMs);
      const stateBadge = runnerState(row);
      return h(
        'tr',
        { 'data-runner': row.name, class: row.connected ? undefined : 'gone' },
        cell('Name', { class: 'name' }, h('span', { class: 'mono', title: row.identity }, row.name)),
        cell('Tier', {}, h('span', { class: 'tier', 'data-tier': row.tier }, row.tier)),
        cell('State', { title: row.left_reason ?? undefined }, badge(stateBadge)),
        cell(
          'Slots used',
          { class: 'num' },
          `${row.connected ? Math.min(row.load, row.slots) : 0} / ${row.slots}`,
        ),
        cell(
          'Languages',
          { class: 'langs' },
          row.languages.length > 0
            ? h('div', { class: 'chips' }, ...row.languages.map((lang) => h('span', { class: 'lang' }, lang)))
            : '—',
        ),
        cell('Jobs done', { class: 'num' }, String(row.jobs_done)),
        cell(
          'Last heartbeat',
          { class: beat.late ? 'late' : undefined, title: row.connected ? row.last_seen_at : undefined },
          beat.text,
        ),
      );
    }),
  );
  byId('runners-table').hidden = rows.length === 0;
  empty('no-runners', state, rows.length, 'No runner is connected.');
}

function renderQueue(state: DashboardState): void {
  const rows = queueRows(state);
  byId('queue-body').replaceChildren(
    ...rows.map((row) =>
      h(
        'tr',
        { 'data-lang': row.lang },
        h('td', {}, h('span', { class: 'lang' }, row.lang)),
        h('td', { class: 'num depth' }, String(row.depth)),
        h('td', { class: 'bar-cell', 'aria-hidden': 'true' }, bar(row.share)),
      ),
    ),
  );
  byId('queue-table').hidden = rows.length === 0;
  empty('no-queue', state, rows.length, 'No language offered, nothing waiting.');
}

function renderJobs(state: DashboardState, now: number): void {
  byId('jobs-body').replaceChildren(
    ...state.jobs.map((job) => {
      const times = jobTimings(job, now);
      const compiled =
        job.timings.compile_ms === null ? '' : ` (compile ${formatDuration(job.timings.compile_ms)})`;
      return h(
        'tr',
        { 'data-job-id': job.id, 'data-status': job.status },
        cell(
          'Job',
          {},
          h(
            'span',
            { class: 'mono', title: `${job.id}${job.client ? ` — ${job.client}` : ''}` },
            shortId(job.id),
          ),
        ),
        cell('Status', {}, badge(jobBadge(job))),
        cell('Language', {}, h('span', { class: 'lang' }, job.lang)),
        cell('Runner', { class: job.runner === null ? 'runner' : 'mono runner' }, job.runner ?? '—'),
        timing('Queue wait', times.queue),
        Object.assign(timing('Run time', times.run), { title: compiled ? `run${compiled}` : '' }),
        timing('Total', times.total),
        cell(
          'Submitted',
          { class: 'muted', title: job.created_at },
          formatAge(now - Date.parse(job.created_at)),
        ),
      );
    }),
  );
  byId('jobs-table').hidden = state.jobs.length === 0;
  empty('no-jobs', state, state.jobs.length, 'No jobs yet.');
  byId('jobs-count').textContent = state.jobs.length > 0 ? `· newest ${state.jobs.length}` : '';
}
