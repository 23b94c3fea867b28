// Messages larger than the NATS server takes in one (its max_payload, 1 MiB by default), cut into
// parts and put back together. A job's `end` carries its stored stdout, stderr and output, up to
// 1 MiB each: cut, it still reaches watchers on other gateways. A part starts with a line
// `#<publisher>:<n> <index>/<total>`; a whole message is JSON, so it starts with `{`. One
// publisher's parts arrive in order (one connection), so a part out of order means one was lost.

/** Room kept in each part for its header line. */
const HEADER_ROOM = 128;
/** At most this many parts to a message: a bound on what a receiver holds for one. */
export const MAX_PARTS = 64;
const MARK = '#'.charCodeAt(0);
const NEWLINE = '\n'.charCodeAt(0);

/** The payload in parts of at most `maxBytes` each (itself alone when it fits). */
export function split(payload: Uint8Array, maxBytes: number, key: string): Uint8Array[] {
  if (payload.byteLength <= maxBytes) return [payload];
  const size = maxBytes - HEADER_ROOM;
  const total = Math.ceil(payload.byteLength / size);
  if (total > MAX_PARTS) {
    throw new Error(`a message of ${payload.byteLength} bytes needs more than ${MAX_PARTS} parts`);
  }
  const parts: Uint8Array[] = [];
  for (let index = 0; index < total; index++) {
    const header = Buffer.from(`#${key} ${index}/${total}\n`);
    parts.push(Buffer.concat([header, payload.subarray(index * size, (index + 1) * size)]));
  }
  return parts;
}

export type Accepted =
  | { kind: 'whole'; bytes: Uint8Array }
  | { kind: 'partial' }
  | { kind: 'malformed'; reason: string };

/** Puts parts back together, for one subscription: one message under way per publisher. */
export class Reassembly {
  readonly #underWay = new Map<string, { key: string; parts: Uint8Array[]; total: number }>();

  accept(bytes: Uint8Array): Accepted {
    if (bytes[0] !== MARK) return { kind: 'whole', bytes };
    const end = bytes.indexOf(NEWLINE);
    const header = /^#(([^: ]+):[^ ]+) (\d+)\/(\d+)$/.exec(
      Buffer.from(bytes.buffer, bytes.byteOffset, Math.max(end, 0)).toString('latin1'),
    );
    if (end < 0 || header === null) return { kind: 'malformed', reason: 'a part without a valid header' };
    const [, key = '', publisher = '', indexText = '', totalText = ''] = header;
    const index = Number(indexText);
    const total = Number(totalText);
    if (total < 2 || total > MAX_PARTS || index >= total) {
      return { kind: 'malformed', reason: `part ${index}/${total}` };
    }
    const body = bytes.subarray(end + 1);
    if (index === 0) {
      // A new message from this publisher (one it had under way, if any, lost its last parts: its
      // connection went down, which the bus logs).
      this.#underWay.set(publisher, { key, parts: [body], total });
      return { kind: 'partial' };
    }
    const current = this.#underWay.get(publisher);
    if (
      current === undefined ||
      current.key !== key ||
      current.parts.length !== index ||
      current.total !== total
    ) {
      this.#underWay.delete(publisher);
      return {
        kind: 'malformed',
        reason: `part ${index}/${total} of ${key} came without the parts before it`,
      };
    }
    current.parts.push(body);
    if (current.parts.length < total) return { kind: 'partial' };
    this.#underWay.delete(publisher);
    return { kind: 'whole', bytes: Buffer.concat(current.parts) };
  }
}
