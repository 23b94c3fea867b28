// Figures as the windows show them: CPU time ("3 h 12 min"), elapsed time ("1:15"), counts
// ("1,284"), clock times and the gateway connection. Plain functions, no DOM: unit-tested.
import type { DonorStatus } from '../../shared/donor.js';

/** CPU time for people: "42 s", "12 min", "3 h 12 min", "2 d 4 h". */
export function formatCpu(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`;
  const days = Math.floor(hours / 24);
  return hours % 24 === 0 ? `${days} d` : `${days} d ${hours % 24} h`;
}

/** How long a job has run: "0:04", "1:15", "1:02:03". */
export function formatElapsed(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
}

/** "1,284": grouped the same way whatever the system's language. */
export function formatCount(n: number): string {
  return Math.round(n)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Local "14:03:22". */
export function formatClock(epochMs: number): string {
  const d = new Date(epochMs);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** The gateway connection in a few words, counting down a retry. */
export function formatConnection(status: DonorStatus, now: number): string {
  const connection = status.connection;
  switch (connection.state) {
    case 'connected':
      return 'Connected';
    case 'connecting':
      return status.state === 'stopped' ? 'Not connected' : 'Connecting…';
    case 'retrying': {
      const seconds = Math.ceil((status.at + (connection.retry_in_ms ?? 0) - now) / 1000);
      return seconds > 0 ? `Unreachable, retrying in ${seconds} s` : 'Unreachable, retrying now';
    }
    case 'refused':
      return connection.message ? `Refused: ${connection.message}` : 'Refused';
  }
}

/** A gateway URL without its scheme, for a narrow column: "gateway.example.org". */
export function shortGateway(url: string): string {
  return url.replace(/^https?:\/\//, '').replace(/\/$/, '');
}
