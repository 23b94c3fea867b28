/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The settings window: the gateway and token, and the whole DonorSettings form (idle, power,
// schedule windows, limits, languages). The form is checked here with the very schema main and
// the donor use (shared/donor.ts, bundled in), each problem shown beside its field, and nothing
// is sent until it passes; main checks again before it writes the file.
import * as v from 'valibot';
import { type DonorSettings, DonorSettingsSchema } from '../../shared/donor.js';
import { fieldErrors } from '../field-errors.js';
import { EnrollmentRequestSchema, type SaveResult, type SettingsView } from '../ipc-api.js';
import { bridge, byId, errorText, h, showError } from './page-kit.js';

/** Monday first, as most of the world's calendars; the schema's numbers are 0 = Sunday. */
const DAYS: readonly [number, string][] = [
  [1, 'Mon'],
  [2, 'Tue'],
  [3, 'Wed'],
  [4, 'Thu'],
  [5, 'Fri'],
  [6, 'Sat'],
  [0, 'Sun'],
];

type Window = DonorSettings['schedule']['windows'][number];
/** A schedule row as typed: not checked yet. */
type RawWindow = { days: number[]; start: string; end: string };

let view: SettingsView | null = null;
/** After the first attempt to save, each change is checked at once. */
let attempted = false;

const settingsForm = () => byId<HTMLFormElement>('settings');
const enrollmentForm = () => byId<HTMLFormElement>('enrollment');

function field(form: HTMLFormElement, name: string): HTMLInputElement {
  const input = form.querySelector<HTMLInputElement>(`input[name="${name}"]:not([type="radio"])`);
  if (!input) throw new Error(`the form has no field ${name}`);
  return input;
}

function radio(form: HTMLFormElement, name: string): string | undefined {
  return form.querySelector<HTMLInputElement>(`input[name="${name}"]:checked`)?.value;
}

function setRadio(form: HTMLFormElement, name: string, value: string): void {
  for (const input of form.querySelectorAll<HTMLInputElement>(`input[name="${name}"]`)) {
    input.checked = input.value === value;
  }
}

/** A number field: empty is missing (the schema says "is required"); text that is not a number, NaN. */
function numberOf(name: string): number | undefined {
  const text = field(settingsForm(), name).value.trim();
  return text === '' ? undefined : Number(text);
}

function fill(settings: DonorSettings): void {
  const form = settingsForm();
  const check = (name: string, on: boolean) => {
    field(form, name).checked = on;
  };
  const put = (name: string, value: number | null) => {
    field(form, name).value = value === null ? '' : String(value);
  };
  check('idle.required', settings.idle.required);
  put('idle.minutes', settings.idle.minutes);
  put('idle.grace_seconds', settings.idle.grace_seconds);
  setRadio(form, 'idle.on_activity', settings.idle.on_activity);
  check('power.run_on_battery', settings.power.run_on_battery);
  put('power.pause_below_percent', settings.power.pause_below_percent);
  put('power.resume_above_percent', settings.power.resume_above_percent);
  check('schedule.enabled', settings.schedule.enabled);
  renderWindows(settings.schedule.windows);
  const limits = settings.limits;
  put('limits.max_jobs', limits.max_jobs);
  put('limits.cpu_cores', limits.cpu_cores);
  put('limits.cpu_percent', limits.cpu_percent);
  put('limits.memory_mb', limits.memory_mb);
  put('limits.daily_cpu_minutes', limits.daily_cpu_minutes);
  put('limits.other_cpu_percent', limits.other_cpu_percent);
  put('limits.memory_percent', limits.memory_percent);
  setRadio(form, 'languages-mode', limits.languages === null ? 'all' : 'some');
  renderLanguages(limits.languages);
}

/** The form as a DonorSettings-shaped value, unchecked: the schema decides. */
function read(): unknown {
  const form = settingsForm();
  const checked = (name: string) => field(form, name).checked;
  const daily = field(form, 'limits.daily_cpu_minutes').value.trim();
  return {
    version: 1,
    idle: {
      required: checked('idle.required'),
      minutes: numberOf('idle.minutes'),
      grace_seconds: numberOf('idle.grace_seconds'),
      on_activity: radio(form, 'idle.on_activity'),
    },
    power: {
      run_on_battery: checked('power.run_on_battery'),
      pause_below_percent: numberOf('power.pause_below_percent'),
      resume_above_percent: numberOf('power.resume_above_percent'),
    },
    schedule: { enabled: checked('schedule.enabled'), windows: readWindows() },
    limits: {
      max_jobs: numberOf('limits.max_jobs'),
      cpu_cores: numberOf('limits.cpu_cores'),
      cpu_percent: numberOf('limits.cpu_percent'),
      memory_mb: numberOf('limits.memory_mb'),
      languages:
        radio(form, 'languages-mode') === 'all'
          ? null
          : [...byId('languages').querySelectorAll<HTMLInputElement>('input:checked')].map(
              (box) => box.value,
            ),
      daily_cpu_minutes: daily === '' ? null : Number(daily),
      other_cpu_percent: numberOf('limits.other_cpu_percent'),
      memory_percent: numberOf('limits.memory_percent'),
    },
  };
}

function renderWindows(windows: readonly (Window | RawWindow)[]): void {
  byId('windows').replaceChildren(...windows.map((window, index) => windowRow(window, index)));
}

function windowRow(window: Window | RawWindow, index: number): HTMLTableRowElement {
  const path = `schedule.windows.${index}`;
  const time = (key: 'start' | 'end') =>
    h(
      'td',
      {},
      h('input', {
        class: 'time',
        type: 'text',
        inputmode: 'numeric',
        maxlength: '5',
        placeholder: 'HH:MM',
        value: window[key],
        'data-key': key,
        'data-path': `${path}.${key}`,
        'aria-label': key === 'start' ? 'From' : 'To',
      }),
      h('span', { class: 'field-error', 'data-error-for': `${path}.${key}` }),
    );
  return h(
    'tr',
    { 'data-window': String(index) },
    h(
      'td',
      {},
      h(
        'div',
        { class: 'days', 'data-path': `${path}.days` },
        ...DAYS.map(([day, name]) =>
          h(
            'label',
            { class: 'day' },
            h('input', { type: 'checkbox', value: String(day), checked: window.days.includes(day) }),
            h('span', {}, name),
          ),
        ),
      ),
      h('span', { class: 'field-error', 'data-error-for': `${path}.days` }),
    ),
    time('start'),
    time('end'),
    h(
      'td',
      {},
      h('button', { type: 'button', class: 'quiet remove', 'data-remove': String(index) }, 'Remove'),
    ),
  );
}

function readWindows(): RawWindow[] {
  return [...byId('windows').querySelectorAll<HTMLTableRowElement>('tr')].map((row) => ({
    days: [...row.querySelectorAll<HTMLInputElement>('.days input:checked')].map((box) => Number(box.value)),
    start: row.querySelector<HTMLInputElement>('input[data-key="start"]')?.value.trim() ?? '',
    end: row.querySelector<HTMLInputElement>('input[data-key="end"]')?.value.trim() ?? '',
  }));
}

/** The bridge's languages, plus any the settings name that this app does not know (kept, not lost). */
function renderLanguages(chosen: readonly string[] | null): void {
  const names = [...new Set([...(view?.languages ?? []), ...(chosen ?? [])])];
  byId('languages').replaceChildren(
    ...names.map((name) =>
      h(
        'label',
        { class: 'chip-check' },
        h('input', { type: 'checkbox', value: name, checked: chosen === null || chosen.includes(name) }),
        h('span', {}, name),
      ),
    ),
  );
  syncLanguages();
}

function syncLanguages(): void {
  const all = radio(settingsForm(), 'languages-mode') === 'all';
  for (const box of byId('languages').querySelectorAll<HTMLInputElement>('input')) box.disabled = all;
  byId('languages').classList.toggle('disabled', all);
}

/** Marks each field's problem beside it; ones with no place of their own go under the form. */
function showFieldErrors(form: HTMLFormElement, fields: Record<string, string>): void {
  for (const span of form.querySelectorAll<HTMLElement>('[data-error-for]')) span.textContent = '';
  for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
  const others = form.querySelector<HTMLElement>('#other-errors');
  others?.replaceChildren();
  for (const [path, message] of Object.entries(fields)) {
    const span = placeFor(form, path);
    if (span) {
      span.textContent = span.textContent ? `${span.textContent}; ${message}` : message;
    } else {
      others?.append(h('li', {}, `${path || 'settings'}: ${message}`));
    }
    for (const input of form.querySelectorAll(`[name="${path}"], [data-path="${path}"]`)) {
      input.setAttribute('aria-invalid', 'true');
    }
  }
}

/** The error place of `path`, or of its nearest parent that has one. */
function placeFor(form: HTMLFormElement, path: string): HTMLElement | null {
  for (let p = path; p !== ''; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '') {
    const span = form.querySelector<HTMLElement>(`[data-error-for="${p}"]`);
    if (span) return span;
  }
  return null;
}

/** Checks the form; the settings when they pass, else null with every problem shown. */
function validate(): DonorSettings | null {
  const parsed = v.safeParse(DonorSettingsSchema, read());
  showFieldErrors(settingsForm(), parsed.success ? {} : fieldErrors(parsed.issues));
  return parsed.success ? parsed.output : null;
}

function result(id: string, text: string, kind: 'ok' | 'bad' | 'busy'): void {
  const line = byId(id);
  line.textContent = text;
  line.dataset.kind = kind;
}

async function saveSettings(): Promise<void> {
  attempted = true;
  const settings = validate();
  if (settings === null) {
    result('settings-result', 'Not saved: correct the marked fields.', 'bad');
    settingsForm().querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
    return;
  }
  result('settings-result', 'Saving…', 'busy');
  const answer: SaveResult = await bridge().saveSettings(settings);
  if (answer.ok) {
    if (view) view = { ...view, settings, source: 'file', problems: [] };
    byId('damaged').hidden = true;
    result('settings-result', 'Saved.', 'ok');
  } else {
    showFieldErrors(settingsForm(), answer.fields);
    result('settings-result', answer.error, 'bad');
  }
}

async function saveEnrollment(): Promise<void> {
  const form = enrollmentForm();
  const token = field(form, 'token').value.trim();
  const parsed = v.safeParse(EnrollmentRequestSchema, {
    gateway_url: field(form, 'gateway_url').value,
    token: token === '' ? null : token,
  });
  if (!parsed.success) {
    showFieldErrors(form, fieldErrors(parsed.issues));
    result('enrollment-result', 'Not saved: correct the marked fields.', 'bad');
    return;
  }
  showFieldErrors(form, {});
  result('enrollment-result', 'Saving…', 'busy');
  const answer = await bridge().saveEnrollment(parsed.output);
  if (answer.ok) {
    field(form, 'token').value = '';
    result('enrollment-result', 'Saved. The donor starts with it.', 'ok');
    await load();
  } else {
    showFieldErrors(form, answer.fields);
    result('enrollment-result', answer.error, 'bad');
  }
}

async function load(): Promise<void> {
  view = await bridge().getSettings();
  fill(view.settings);
  const damaged = view.source === 'damaged';
  byId('damaged').hidden = !damaged;
  byId('damaged-file').textContent = view.file;
  byId('damaged-problems').replaceChildren(
    ...view.problems.map((problem) => h('li', { class: 'mono' }, problem)),
  );
  const enrollment = view.enrollment;
  const form = enrollmentForm();
  field(form, 'gateway_url').value = enrollment.gateway_url ?? '';
  field(form, 'token').placeholder = enrollment.has_token
    ? 'Stored — leave empty to keep it'
    : 'The token you were given';
  const unavailable = byId('token-unavailable');
  unavailable.hidden = enrollment.can_store_token;
  unavailable.textContent =
    'This system offers no keychain to encrypt the token (on Linux: GNOME Keyring or KWallet), so it cannot be stored. Start one, then open Settings again.';
}

function main(): void {
  const api = bridge();
  const run = (task: () => Promise<void>) => {
    showError(null);
    task().catch((err: unknown) => showError(errorText(err)));
  };
  settingsForm().addEventListener('submit', (event) => {
    event.preventDefault();
    run(saveSettings);
  });
  enrollmentForm().addEventListener('submit', (event) => {
    event.preventDefault();
    run(saveEnrollment);
  });
  settingsForm().addEventListener('change', (event) => {
    if ((event.target as HTMLInputElement).name === 'languages-mode') syncLanguages();
    if (attempted) validate();
  });
  byId('windows').addEventListener('click', (event) => {
    const index = (event.target as HTMLElement).dataset.remove;
    if (index === undefined) return;
    renderWindows(readWindows().filter((_, i) => i !== Number(index)));
    if (attempted) validate();
  });
  byId('add-window').addEventListener('click', () => {
    renderWindows([...readWindows(), { days: [1, 2, 3, 4, 5], start: '18:00', end: '24:00' }]);
  });
  byId('revert').addEventListener('click', () => {
    if (!view) return;
    attempted = false;
    fill(view.settings);
    showFieldErrors(settingsForm(), {});
    result('settings-result', '', 'ok');
  });
  byId('open-status').addEventListener('click', () => run(() => api.openWindow('status')));
  run(load);
}

try {
  main();
} catch (err) {
  showError(errorText(err));
}
