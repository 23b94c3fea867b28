/// <reference lib="dom" />
// codeexec — Operator's dashboard: the page's entry (bundled by tsup into dist-web/admin/main.js).
// It opens the gateway's dashboard socket with the admin key kept in this browser (asked for when
// the gateway answers 4401), applies each frame to the state (dashboard-state.ts) and draws it
// (render.ts): on each frame, and every second so that ages and running timings move.
import type { AdminFrame } from '../../shared/admin-protocol.js';
import { byId } from '../../shared/dom.js';
import { DashboardConnection, eventsUrl } from './connection.js';
import { applyFrame, type DashboardState, EMPTY_STATE } from './dashboard-state.js';
import { type ConnectionStatus, staleNotice, statusText } from './reconnect.js';
import { render } from './render.js';

const KEY_STORAGE = 'codeexec.admin.key';

let state: DashboardState = EMPTY_STATE;
let status: ConnectionStatus = { state: 'connecting' };
let drawPending = false;
/** When the last frame came (this page's clock). */
let lastFrameAt: number | null = null;

/** The key in use when storage is refused (a private window's policy): as long as the page lasts. */
let sessionKey: string | null = null;

const storedKey = (): string | null => {
  try {
    return localStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
};

function storeKey(key: string | null): void {
  try {
    if (key === null) localStorage.removeItem(KEY_STORAGE);
    else localStorage.setItem(KEY_STORAGE, key);
  } catch {
    // Refused: sessionKey holds it.
  }
  sessionKey = key;
}

const currentKey = () => storedKey() ?? sessionKey;

const TONES: Record<ConnectionStatus['state'], string> = {
  connecting: 'waiting',
  live: 'ok',
  reconnecting: 'warn',
  key_needed: 'bad',
};

function drawStatus(): void {
  const indicator = byId('connection');
  indicator.dataset.tone = TONES[status.state];
  indicator.dataset.state = status.state;
  indicator.title = status.state === 'reconnecting' ? `Closed: ${status.reason}` : '';
  byId('connection-text').textContent = statusText(status, Date.now());
  document.body.dataset.connection = status.state;
  const notice = staleNotice(status, lastFrameAt, Date.now());
  const stale = byId('stale');
  stale.hidden = notice === null;
  stale.textContent = notice ?? '';
}

function draw(): void {
  drawPending = false;
  drawStatus();
  render(state, Date.now());
}

/** One draw per animation frame, however many frames arrive. */
function scheduleDraw(): void {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(draw);
}

function showKeyForm(message: string | null): void {
  const form = byId<HTMLFormElement>('key-form');
  byId('key-message').textContent =
    message ?? 'Enter an admin key of this gateway (one of its CODEEXEC_ADMIN_KEYS).';
  byId('key-forget').hidden = storedKey() === null;
  // Cancel only when the dashboard works without a new key.
  byId('key-cancel').hidden = status.state === 'key_needed';
  form.hidden = false;
  byId<HTMLInputElement>('key-input').focus();
}

const connection = new DashboardConnection(eventsUrl(location.href), currentKey, {
  frame(frame: AdminFrame, receivedAt: number) {
    if (frame.type === 'error') console.warn(`codeexec dashboard: ${frame.code}: ${frame.message}`);
    state = applyFrame(state, frame, receivedAt);
    lastFrameAt = receivedAt;
    scheduleDraw();
  },
  status(next: ConnectionStatus) {
    status = next;
    if (next.state === 'key_needed') {
      showKeyForm(
        next.refused
          ? 'The gateway refused this key. Enter another admin key (one of its CODEEXEC_ADMIN_KEYS).'
          : 'This gateway needs an admin key: one of its CODEEXEC_ADMIN_KEYS.',
      );
    }
    if (next.state === 'live') byId('key-form').hidden = true;
    scheduleDraw();
  },
});

byId<HTMLFormElement>('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = byId<HTMLInputElement>('key-input');
  const key = input.value.trim();
  if (key === '') return;
  storeKey(key);
  input.value = '';
  byId('key-form').hidden = true;
  connection.connect();
});
byId('key-cancel').addEventListener('click', () => {
  byId('key-form').hidden = true;
});
byId('key-forget').addEventListener('click', () => {
  storeKey(null);
  byId('key-form').hidden = true;
  connection.connect();
});
byId('change-key').addEventListener('click', () => showKeyForm(null));

connection.connect();
setInterval(draw, 1_000);
