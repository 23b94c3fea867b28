// Fuzz every frame schema against a live gateway (issue 13): thousands of generated, mutated and
// garbage frames on /execute/ws, /api/v2/connect and /runners/connect, and bodies on the REST
// routes. Each must be answered as documented (an error frame with a code of shared/errors.ts, or
// a documented close code), never hang or crash the gateway, and the gateway must keep serving:
// a real runner beside the fuzz still runs a normal job at the end. Frames come from fast-check
// with a fixed seed (FUZZ_SEED overrides it), so a failure names a frame that reproduces.

import { connect } from 'node:net';
import { toJsonSchema } from '@valibot/to-json-schema';
import fc from 'fast-check';
import * as v from 'valibot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Runner } from '../runner/runner.js';
import { ClientToGatewayFrame } from '../shared/client-protocol.js';
import { ERRORS, isErrorCode } from '../shared/errors.js';
import { PistonClientFrame, PistonExecuteSchema, SIGNALS } from '../shared/index.js';
import { createLogger } from '../shared/log.js';
import { AsyncRequestSchema, ExecuteRequestSchema } from '../shared/rest.js';
import { RunnerToGatewayFrame } from '../shared/runner-protocol.js';
import { containersOf, startGateway, startRunner, uniqueName } from './helpers.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_129);
const COUNTS = { client: 2000, piston: 1000, runnerBefore: 250, runnerAfter: 250, rest: 500 };
/** How long an answer may take before the frame counts as hung (a loaded 2-core machine). */
const ANSWER_MS = 5_000;
const MiB = 1024 * 1024;

// ---- Arbitraries: from each schema's JSON Schema, then mutated, plus garbage ----------------

interface JsonSchema {
  type?: string;
  const?: unknown;
  enum?: unknown[];
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
}

/** Arbitraries for fields by name, instead of the schema's (to keep real jobs rare, say). */
type Overrides = Record<string, fc.Arbitrary<unknown>>;

/** Values that satisfy `schema` (mostly: the schema itself judges each frame sent). */
function arbitraryOf(schema: JsonSchema, overrides: Overrides, key = ''): fc.Arbitrary<unknown> {
  const override = overrides[key];
  if (override) return override;
  if ('const' in schema) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const variants = schema.oneOf ?? schema.anyOf;
  if (variants) return fc.oneof(...variants.map((s) => arbitraryOf(s, overrides, key)));
  switch (schema.type) {
    case 'string': {
      const min = schema.minLength ?? 0;
      const max = Math.min(schema.maxLength ?? min + 24, min + 24);
      const edges = [min, schema.maxLength].filter((n): n is number => n !== undefined && n <= 4096);
      return fc.oneof(
        { weight: 6, arbitrary: fc.string({ minLength: min, maxLength: max }) },
        { weight: 2, arbitrary: fc.string({ minLength: min, maxLength: max, unit: 'binary' }) },
        {
          weight: 1,
          arbitrary: fc.constantFrom(...edges, ...edges.map((n) => n + 1)).map((n) => 'é'.repeat(n)),
        },
      );
    }
    case 'integer':
    case 'number': {
      const min = schema.minimum ?? -(2 ** 31);
      const max = schema.maximum ?? min + 2 ** 31;
      return fc.oneof(
        { weight: 4, arbitrary: fc.integer({ min, max }) },
        { weight: 1, arbitrary: fc.constantFrom(min, max, min - 1, max + 1, Number.MAX_SAFE_INTEGER, 0.5) },
      );
    }
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(arbitraryOf(schema.items ?? {}, overrides, key), {
        minLength: schema.minItems ?? 0,
        maxLength: Math.min(schema.maxItems ?? 3, 3),
      });
    case 'object': {
      const properties = schema.properties ?? {};
      const record: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [name, field] of Object.entries(properties))
        record[name] = arbitraryOf(field, overrides, name);
      return fc.record(record, {
        requiredKeys: (schema.required ?? []).filter((name) => name in properties),
      });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

function schemaArbitrary(schema: v.GenericSchema, overrides: Overrides): fc.Arbitrary<unknown> {
  return arbitraryOf(toJsonSchema(schema, { errorMode: 'ignore' }) as JsonSchema, overrides);
}

const nested = (depth: number, open = '[', close = ']') => `${open.repeat(depth)}${close.repeat(depth)}`;

/** What a mutation puts where a field was: wrong types, limits, NaN and friends, huge, deep, odd text. */
const weird: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.constantFrom(
      null,
      true,
      0,
      -0,
      -1,
      1.5,
      'NaN',
      'Infinity',
      '-Infinity',
      Number.MAX_SAFE_INTEGER,
      Number.MAX_SAFE_INTEGER + 2,
      -Number.MAX_SAFE_INTEGER,
      1e308,
      5e-324,
      '',
      [],
      {},
      '\u0000',
      '\ud800',
      '\u202e\ufeff',
      '🦄'.repeat(40),
      'a'.repeat(65),
    ),
  },
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 80 }) },
  // Just past the 64 KiB stdin and the 512 KiB code limits.
  { weight: 1, arbitrary: fc.constantFrom(64 * 1024 + 1, 512 * 1024 + 1).map((n) => 'x'.repeat(n)) },
  { weight: 1, arbitrary: fc.integer({ min: 10, max: 2_000 }).map((depth) => JSON.parse(nested(depth))) },
);

type Mutation = (frame: Record<string, unknown>, pick: number, value: unknown) => void;
const keyOf = (frame: Record<string, unknown>, pick: number) => {
  const keys = Object.keys(frame);
  return keys[pick % Math.max(1, keys.length)] ?? 'type';
};
const MUTATIONS: Mutation[] = [
  (frame, pick) => delete frame[keyOf(frame, pick)],
  (frame, pick) => {
    const key = keyOf(frame, pick);
    frame[pick % 2 ? key.toUpperCase() : `${key}_`] = frame[key];
    delete frame[key];
  },
  (frame, pick, value) => {
    frame[keyOf(frame, pick)] = value;
  },
  (frame, pick, value) => {
    frame[['extra', '__proto__', 'constructor', ''][pick % 4]!] = value;
  },
  (frame, _pick, value) => {
    frame.type = typeof value === 'string' ? value : 'EXECUTE';
  },
];

/** Text-level damage to a frame's JSON: cut, spliced, numbers no JSON has, duplicate keys, BOM. */
const textMutation = (text: string) =>
  fc.oneof(
    fc.nat(text.length).map((at) => text.slice(0, at)),
    fc
      .tuple(fc.nat(text.length), fc.string({ unit: 'binary', minLength: 1, maxLength: 3 }))
      .map(([at, s]) => text.slice(0, at) + s + text.slice(at)),
    fc
      .constantFrom('NaN', 'Infinity', '-Infinity', '1e999', '-1e999', '1e-999', '-0', '0x10', '01')
      .map((n) => text.replace(/:(-?\d+(\.\d+)?)/g, `:${n}`)),
    fc
      .constantFrom('"id":1,', '"type":"cancel",', '"id":"dup","id":"dup",')
      .map((dup) => text.replace('{', `{${dup}`)),
    fc.constantFrom('\ufeff', ' \n\t', '[', '"').map((prefix) => prefix + text),
    fc.constantFrom('}', ',', ' x', '\u0000').map((suffix) => text + suffix),
  );

/** A frame to send: text (or bytes, sent as a binary frame). */
type Wire = { text: string } | { binary: Uint8Array };

/** Valid-looking frames of `schema`, the same mutated, their JSON damaged, and garbage. */
function wireArbitrary(schema: v.GenericSchema, overrides: Overrides): fc.Arbitrary<Wire> {
  const valid = schemaArbitrary(schema, overrides);
  const mutated = fc
    .tuple(
      valid,
      fc.array(fc.tuple(fc.nat(MUTATIONS.length - 1), fc.nat(), weird), { minLength: 1, maxLength: 3 }),
    )
    .map(([frame, steps]) => {
      if (typeof frame !== 'object' || frame === null) return frame;
      const copy = { ...(frame as Record<string, unknown>) };
      for (const [mutation, pick, value] of steps) MUTATIONS[mutation]!(copy, pick, value);
      return copy;
    });
  const garbage: fc.Arbitrary<Wire> = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 200 }).map((text) => ({ text })),
    fc.json({ maxDepth: 3 }).map((text) => ({ text })),
    fc
      .constantFrom('', ' ', 'null', '[]', '"x"', '1', '{}', 'NaN', '{"type":null}', '{"type":{}}')
      .map((text) => ({ text })),
    fc.integer({ min: 1_000, max: 10_000 }).map((depth) => ({ text: nested(depth) })),
    fc
      .integer({ min: 1_000, max: 10_000 })
      .map((depth) => ({ text: `{"id":"deep","type":${nested(depth, '{"a":', '}')}}` })),
    fc.uint8Array({ maxLength: 64 }).map((binary) => ({ binary })),
    valid.map((frame) => ({ binary: new TextEncoder().encode(JSON.stringify(frame)) })),
  );
  return fc.oneof(
    { weight: 3, arbitrary: valid.map((frame) => ({ text: JSON.stringify(frame) })) },
    { weight: 4, arbitrary: mutated.map((frame) => ({ text: JSON.stringify(frame) ?? 'undefined' })) },
    {
      weight: 2,
      arbitrary: valid.chain((frame) => textMutation(JSON.stringify(frame))).map((text) => ({ text })),
    },
    { weight: 2, arbitrary: garbage },
  );
}

/** Languages: python (which really runs) rarely, else ones no runner has or nobody knows. */
const language = fc.oneof(
  { weight: 1, arbitrary: fc.constant('python') },
  { weight: 1, arbitrary: fc.constantFrom('cobol', 'go', 'PYTHON', 'py3', '', 'python\u0000') },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
);
const code = fc.oneof(
  fc.constantFrom('print(1)', 'import sys; sys.exit(3)', ''),
  fc.string({ maxLength: 60 }),
);

function sample<T>(arbitrary: fc.Arbitrary<T>, count: number, salt: number): T[] {
  return fc.sample(arbitrary, { seed: SEED + salt, numRuns: count });
}

/** The text the gateway reads from a frame: uWS hands binary frames over as UTF-8 too. */
const textOf = (wire: Wire) =>
  'text' in wire ? wire.text : new TextDecoder('utf-8', { ignoreBOM: true }).decode(wire.binary);
const show = (wire: Wire) => {
  const text =
    'text' in wire ? wire.text : `<binary ${Buffer.from(wire.binary).toString('hex').slice(0, 200)}>`;
  return text.length > 300 ? `${text.slice(0, 300)}… (${text.length} chars)` : text;
};

/** The schema's verdict on a frame's text: the oracle for what the gateway must answer. */
function judge(schema: v.GenericSchema, text: string): { valid: boolean; value: unknown } {
  try {
    const value: unknown = JSON.parse(text);
    return { valid: v.safeParse(schema, value).success, value };
  } catch {
    return { valid: false, value: undefined };
  }
}

// ---- A socket that records what came back, for the fuzz ------------------------------------

// biome-ignore lint/suspicious/noExplicitAny: frames are whatever the gateway sent
type Frame = Record<string, any>;

class FuzzSocket {
  readonly frames: Frame[] = [];
  #close: { code: number; reason: string } | null = null;
  readonly ws: WebSocket;
  #wake: (() => void) | null = null;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data, isBinary) => {
      let frame: Frame;
      try {
        frame = JSON.parse(data.toString());
      } catch {
        frame = { type: '<not JSON>', raw: data.toString().slice(0, 200), isBinary };
      }
      this.frames.push(frame);
      this.#wake?.();
    });
    ws.on('close', (code, reason) => {
      this.#close = { code, reason: reason.toString() };
      this.#wake?.();
    });
    ws.on('error', () => {});
  }

  /** How the socket closed; null while open. */
  closed(): { code: number; reason: string } | null {
    return this.#close;
  }

  static async open(url: string): Promise<FuzzSocket> {
    const ws = new WebSocket(url.replace(/^http/, 'ws'));
    const socket = new FuzzSocket(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return socket;
  }

  send(wire: Wire | object): void {
    if ('binary' in wire) this.ws.send(wire.binary, { binary: true });
    else this.ws.send('text' in wire ? wire.text : JSON.stringify(wire));
  }

  /** Resolves once `done` holds (checked on each frame and on close), or false after `ms`. */
  async until(done: () => boolean, ms = ANSWER_MS): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = null;
    }
    return true;
  }

  end(): void {
    if (this.#close === null) this.ws.close(1000);
  }
}

/** What a run saw: frames sent, error frames by code, closes by code, and what broke the rules. */
class Tally {
  sent = 0;
  readonly errors = new Map<string, number>();
  readonly closes = new Map<number, number>();
  readonly violations: string[] = [];

  error(code: unknown): void {
    this.errors.set(String(code), (this.errors.get(String(code)) ?? 0) + 1);
  }
  closed(code: number): void {
    this.closes.set(code, (this.closes.get(code) ?? 0) + 1);
  }
  violation(wire: Wire, what: string): void {
    this.violations.push(`${what}\n    frame: ${show(wire)}`);
  }
  print(name: string): void {
    const errors = [...this.errors.values()].reduce((a, b) => a + b, 0);
    console.log(
      `[fuzz seed ${SEED}] ${name}: ${this.sent} frames sent, ${errors} error frames ${JSON.stringify(
        Object.fromEntries(this.errors),
      )}, closes ${JSON.stringify(Object.fromEntries(this.closes))}, ${this.violations.length} violations`,
    );
  }
}

const documentedError = (frame: Frame) => isErrorCode(frame.code) && frame.code !== 'internal';

// ---- The gateway, a real runner, and the checks ----------------------------------------------

let url: string;
let token: string;
let runner: Runner;
/** Lines the gateway logged at error level: an unexpected exception is a bug the fuzz found. */
const errorLogs: string[] = [];
const started = Date.now();

beforeAll(async () => {
  ({ url, token } = await startGateway({
    log: createLogger({ level: 'error', destination: { write: (line) => errorLogs.push(line) } }),
    // Valid-looking jobs that cannot be placed end quickly instead of waiting 30 s.
    queueTimeoutMs: 2_000,
    offerTimeoutMs: 1_000,
  }));
  runner = await startRunner({ gatewayUrl: url, token, slots: 2, languages: ['python'] });
  await runner.connected();
  console.log(`[fuzz seed ${SEED}] (set FUZZ_SEED to change it)`);
});

afterAll(() => {
  console.log(`[fuzz seed ${SEED}] whole file: ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

describe('the client socket (/execute/ws)', () => {
  it(`answers ${COUNTS.client} fuzzed frames with error frames or documented closes, and keeps serving`, async () => {
    const tally = new Tally();
    const overrides: Overrides = { lang: language, code };
    const frames = sample(wireArbitrary(ClientToGatewayFrame, overrides), COUNTS.client, 1);
    // Oversized frames, at fixed places: past 1 MiB uWS drops the connection (1006); ws says 1009.
    for (const at of [0, 700, 1400]) frames.splice(at, 0, { text: 'x'.repeat(MiB + 1) });
    let socket = await FuzzSocket.open(`${url}/execute/ws`);
    let accepted = 0;
    for (const [i, wire] of frames.entries()) {
      if (socket.closed() !== null || i % 100 === 0) {
        socket.end();
        socket = await FuzzSocket.open(`${url}/execute/ws`);
      }
      const text = textOf(wire);
      const verdict = judge(ClientToGatewayFrame, text);
      const oversized = Buffer.byteLength(text) > MiB;
      const from = socket.frames.length;
      const probe = `\u0001probe-${i}`;
      socket.send(wire);
      // A frame for no job: answered not_found at once, after whatever the fuzzed frame caused.
      socket.send({ type: 'cancel', id: probe });
      tally.sent++;
      const answered = await socket.until(
        () => socket.closed() !== null || socket.frames.some((f, at) => at >= from && f.id === probe),
      );
      const answers = socket.frames.slice(from).filter((f) => f.id !== probe);
      for (const answer of answers) {
        if (answer.type === 'error') {
          tally.error(answer.code);
          if (!documentedError(answer))
            tally.violation(wire, `error frame with code ${answer.code}: ${answer.message}`);
        }
        // Valid-looking jobs really run: end them, so the fuzz stays light.
        if (answer.type === 'accepted') {
          accepted++;
          socket.send({ type: 'cancel', id: answer.id });
        }
      }
      const closed = socket.closed();
      if (closed !== null) {
        tally.closed(closed.code);
        if (!oversized) tally.violation(wire, `closed the socket with ${closed.code} ${closed.reason}`);
        else if (![1006, 1009].includes(closed.code))
          tally.violation(wire, `oversized: closed with ${closed.code}`);
        continue;
      }
      if (oversized) tally.violation(wire, 'an oversized frame did not close the socket');
      if (!answered) {
        tally.violation(wire, `no answer to the probe within ${ANSWER_MS} ms`);
        continue;
      }
      if (!verdict.valid) {
        const id = (verdict.value as { id?: unknown } | undefined)?.id;
        const wantId = typeof id === 'string' ? id.slice(0, 64) : null;
        if (!answers.some((f) => f.type === 'error' && f.code === 'invalid_frame' && f.id === wantId)) {
          tally.violation(
            wire,
            `invalid frame not answered with invalid_frame (id ${JSON.stringify(wantId)}): ${JSON.stringify(answers).slice(0, 300)}`,
          );
        }
      }
    }
    socket.end();
    tally.print('/execute/ws');
    console.log(`[fuzz seed ${SEED}] /execute/ws: ${accepted} valid-looking jobs accepted (and cancelled)`);

    // A fresh socket serves, and a normal job runs on the real runner.
    const fresh = await FuzzSocket.open(`${url}/execute/ws`);
    fresh.send({ type: 'execute', id: 'after-fuzz', lang: 'python', code: 'print(6*7)' });
    expect(await fresh.until(() => fresh.frames.some((f) => f.type === 'exit'), 30_000)).toBe(true);
    expect(fresh.frames.find((f) => f.type === 'exit')?.result).toMatchObject({
      stdout: '42\n',
      status: 'done',
    });
    fresh.end();
    expect(tally.violations.slice(0, 20)).toEqual([]);
  }, 90_000);
});

describe('the Piston socket (/api/v2/connect)', () => {
  it(`answers ${COUNTS.piston} fuzzed frames with Piston's error frame and close codes`, async () => {
    const tally = new Tally();
    const overrides: Overrides = {
      language,
      version: fc.oneof(fc.constant('*'), fc.string({ maxLength: 8 })),
      content: code,
      stream: fc.oneof(fc.constant('stdin'), fc.string({ maxLength: 8 })),
      signal: fc.oneof(fc.constantFrom(...SIGNALS), fc.string({ maxLength: 8 })),
    };
    const sequences = sample(
      fc.array(wireArbitrary(PistonClientFrame, overrides), { minLength: 1, maxLength: 4 }),
      COUNTS.piston,
      2,
    );
    sequences.splice(100, 0, [{ text: 'x'.repeat(MiB + 1) }]);
    for (const sequence of sequences) {
      if (tally.sent >= COUNTS.piston) break;
      const socket = await FuzzSocket.open(`${url}/api/v2/connect`);
      let running = false;
      for (const wire of sequence) {
        if (socket.closed() !== null) break;
        const text = textOf(wire);
        const { valid, value } = judge(PistonClientFrame, text);
        const frame = value as Frame;
        const from = socket.frames.length;
        socket.send(wire);
        tally.sent++;
        // What Piston's protocol says must happen (null: the frame goes to the program, no answer).
        let want: number[] | null;
        if (Buffer.byteLength(text) > MiB) want = [1006, 1009];
        else if (!valid) want = [4002];
        else if (frame.type === 'init') want = running ? [4000] : [4002, -1];
        else if (!running) want = [4003];
        else if (frame.type === 'data' && frame.stream !== 'stdin') want = [4004];
        else if (frame.type === 'signal' && !(SIGNALS as readonly string[]).includes(frame.signal))
          want = [4005];
        else want = null;
        if (want === null) {
          // Nothing comes back for input; the job may end meanwhile (4999 after its exit frame).
          await socket.until(() => socket.closed() !== null, 20);
        } else {
          const ok = await socket.until(
            () =>
              socket.closed() !== null ||
              (want.includes(-1) && socket.frames.some((f, at) => at >= from && f.type === 'runtime')),
          );
          if (!ok) tally.violation(wire, `no answer within ${ANSWER_MS} ms (wanted close ${want.join('/')})`);
          if (socket.closed() === null && socket.frames.some((f, at) => at >= from && f.type === 'runtime'))
            running = true;
        }
        for (const answer of socket.frames.slice(from)) {
          if (answer.type === 'error') {
            tally.error('error');
            if (typeof answer.message !== 'string')
              tally.violation(wire, `error frame without a message: ${JSON.stringify(answer)}`);
          }
        }
        const closed = socket.closed();
        if (closed !== null) {
          tally.closed(closed.code);
          // A running job may also end by itself meanwhile: its last exit frame, then 4999.
          const expected = running ? [...(want ?? []), 4999] : (want ?? []);
          if (!expected.includes(closed.code)) {
            tally.violation(
              wire,
              `closed with ${closed.code} ${closed.reason}, wanted ${expected.join('/')}`,
            );
          }
          if (closed.code === 4002 && !socket.frames.slice(from).some((f) => f.type === 'error')) {
            tally.violation(wire, 'closed with 4002 without an error frame first');
          }
        }
      }
      socket.end();
    }
    tally.print('/api/v2/connect');

    // A fresh socket still runs an interactive job to its end.
    const fresh = await FuzzSocket.open(`${url}/api/v2/connect`);
    fresh.send({ type: 'init', language: 'python', files: [{ content: 'print(input())' }] });
    fresh.send({ type: 'data', stream: 'stdin', data: 'after the fuzz\n' });
    expect(await fresh.until(() => fresh.closed() !== null, 30_000)).toBe(true);
    expect(fresh.closed()?.code).toBe(4999);
    // Python writes unbuffered: the line may come in several data frames.
    const printed = fresh.frames
      .filter((f) => f.type === 'data' && f.stream === 'stdout')
      .map((f) => f.data)
      .join('');
    expect(printed).toBe('after the fuzz\n');
    expect(tally.violations.slice(0, 20)).toEqual([]);
  }, 90_000);
});

describe('the runner socket (/runners/connect)', () => {
  const runnerOverrides = (): Overrides => ({
    // The fuzzing "runners" must not offer a language the real one runs: jobs would go to them.
    name: fc.oneof(
      fc.constant(runner.name),
      fc.string({ minLength: 1, maxLength: 20 }).map((s) => `fuzz-${s}`),
    ),
    token: fc.oneof(fc.constant(token), fc.string({ maxLength: 30 })),
    languages: fc.constant([]),
  });

  it(`before hello: ${COUNTS.runnerBefore} fuzzed frames each end the socket with an error frame and 44xx`, async () => {
    const tally = new Tally();
    const frames = sample(wireArbitrary(RunnerToGatewayFrame, runnerOverrides()), COUNTS.runnerBefore, 3);
    for (const wire of frames) {
      const socket = await FuzzSocket.open(`${url}/runners/connect`);
      const { valid, value } = judge(RunnerToGatewayFrame, textOf(wire));
      const hello = valid && (value as Frame).type === 'hello' ? (value as Frame) : null;
      socket.send(wire);
      tally.sent++;
      const ok = await socket.until(
        () => socket.closed() !== null || socket.frames.some((f) => f.type === 'welcome'),
      );
      if (!ok) tally.violation(wire, `no answer within ${ANSWER_MS} ms`);
      for (const answer of socket.frames) if (answer.type === 'error') tally.error(answer.code);
      if (socket.frames.some((f) => f.type === 'welcome')) {
        if (hello?.token !== token || hello.name === runner.name) tally.violation(wire, 'welcomed');
        // Gone for good before the next hello, which may use the same name.
        socket.end();
        await socket.until(() => socket.closed() !== null);
        continue;
      }
      const closed = socket.closed();
      socket.end();
      if (closed === null) continue;
      tally.closed(closed.code);
      const want =
        hello === null ? 4400 : hello.token !== token ? 4401 : hello.name === runner.name ? 4409 : 0;
      const error = socket.frames.find((f) => f.type === 'error');
      if (closed.code !== want) tally.violation(wire, `closed with ${closed.code}, wanted ${want}`);
      if (!error || !documentedError(error))
        tally.violation(wire, `no documented error frame before the close: ${JSON.stringify(error)}`);
    }
    tally.print('/runners/connect before hello');
    expect(tally.violations.slice(0, 20)).toEqual([]);
  }, 60_000);

  it(`after hello: ${COUNTS.runnerAfter} fuzzed frames are answered (invalid_frame) and the socket stays`, async () => {
    const tally = new Tally();
    const frames = sample(wireArbitrary(RunnerToGatewayFrame, runnerOverrides()), COUNTS.runnerAfter, 4);
    // The largest frame a runner may send is 48 MiB: one past it closes the socket.
    frames.splice(125, 0, { text: 'x'.repeat(48 * MiB + 1) });
    let socket: FuzzSocket | null = null;
    const hello = async () => {
      const s = await FuzzSocket.open(`${url}/runners/connect`);
      s.send({
        type: 'hello',
        protocol: 1,
        token,
        name: uniqueName('fuzz-runner'),
        version: '0',
        languages: [],
        slots: 1,
      });
      expect(await s.until(() => s.frames.some((f) => f.type === 'welcome'))).toBe(true);
      return s;
    };
    for (const wire of frames) {
      if (socket === null || socket.closed() !== null) {
        socket?.end();
        socket = await hello();
      }
      const text = textOf(wire);
      const { valid } = judge(RunnerToGatewayFrame, text);
      const oversized = Buffer.byteLength(text) > 48 * MiB;
      const from = socket.frames.length;
      socket.send(wire);
      socket.send({ type: 'heartbeat' });
      tally.sent++;
      // The probe's answer is a heartbeat; a fuzzed heartbeat gets one too.
      const beats = valid && (JSON.parse(text) as Frame).type === 'heartbeat' ? 2 : 1;
      const s = socket;
      const ok = await s.until(
        () =>
          s.closed() !== null || s.frames.slice(from).filter((f) => f.type === 'heartbeat').length >= beats,
      );
      const answers = s.frames.slice(from);
      for (const answer of answers) if (answer.type === 'error') tally.error(answer.code);
      const closed = s.closed();
      if (closed !== null) {
        tally.closed(closed.code);
        if (!oversized || ![1006, 1009].includes(closed.code))
          tally.violation(wire, `closed with ${closed.code} ${closed.reason}`);
        continue;
      }
      if (oversized) tally.violation(wire, 'an oversized frame did not close the socket');
      if (!ok) tally.violation(wire, `no heartbeat answer within ${ANSWER_MS} ms`);
      if (!valid && !answers.some((f) => f.type === 'error' && f.code === 'invalid_frame')) {
        tally.violation(
          wire,
          `invalid frame not answered with invalid_frame: ${JSON.stringify(answers).slice(0, 300)}`,
        );
      }
      if (answers.some((f) => f.type === 'error' && !documentedError(f)))
        tally.violation(wire, 'undocumented error code');
    }
    socket?.end();
    tally.print('/runners/connect after hello');
    expect(tally.violations.slice(0, 20)).toEqual([]);
  }, 90_000);
});

describe('REST', () => {
  const routes = [
    { path: '/execute/code', schema: ExecuteRequestSchema, piston: false },
    { path: '/execute/async', schema: AsyncRequestSchema, piston: false },
    { path: '/api/v2/execute', schema: PistonExecuteSchema, piston: true },
  ];

  it(`answers ${COUNTS.rest} fuzzed bodies with 4xx and the error shape (2xx when valid), never 5xx`, async () => {
    const tally = new Tally();
    const overrides: Overrides = {
      lang: language,
      language,
      code,
      content: code,
      version: fc.oneof(fc.constant('*'), fc.string({ maxLength: 8 })),
    };
    const requests = sample(
      fc
        .tuple(
          fc.nat(routes.length - 1),
          fc.constantFrom(
            'application/json',
            'application/json',
            'application/json',
            'text/plain',
            'application/x-www-form-urlencoded',
            '',
          ),
        )
        .chain(([route, type]) =>
          wireArbitrary(routes[route]!.schema, overrides).map((wire) => ({
            route: routes[route]!,
            type,
            wire,
          })),
        ),
      COUNTS.rest,
      5,
    );
    requests.push({ route: routes[0]!, type: 'application/json', wire: { text: 'x'.repeat(MiB + 1) } });
    const one = async ({ route, type, wire }: (typeof requests)[number]) => {
      const response = await fetch(`${url}${route.path}`, {
        method: 'POST',
        headers: type ? { 'content-type': type } : {},
        body: 'text' in wire ? wire.text : Buffer.from(wire.binary),
      });
      tally.sent++;
      const text = await response.text();
      tally.closed(response.status);
      let body: Frame | undefined;
      try {
        body = JSON.parse(text);
      } catch {
        tally.violation(
          wire,
          `${route.path}: ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`,
        );
        return;
      }
      // 5xx only as documented for a valid job that could not run (no_runner, unverified…), never 500.
      if (
        response.status === 500 ||
        (response.status > 500 && !route.piston && !isErrorCode(body?.error?.code))
      ) {
        tally.violation(wire, `${route.path} (${type}): ${response.status} ${text.slice(0, 300)}`);
      }
      if (response.status < 400) return;
      if (route.piston) {
        if (typeof body?.message !== 'string')
          tally.violation(
            wire,
            `${route.path}: ${response.status} without Piston's message: ${text.slice(0, 200)}`,
          );
        return;
      }
      tally.error(body?.error?.code);
      if (!isErrorCode(body?.error?.code) || typeof body?.error?.message !== 'string') {
        tally.violation(
          wire,
          `${route.path}: ${response.status} without the error shape: ${text.slice(0, 200)}`,
        );
      } else if (ERRORS[body.error.code as keyof typeof ERRORS].status !== response.status) {
        tally.violation(wire, `${route.path}: status ${response.status} for ${body.error.code}`);
      }
    };
    // A few at a time: valid python bodies wait for their job on the real runner.
    const queue = [...requests];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let next = queue.shift(); next; next = queue.shift()) await one(next);
      }),
    );
    console.log(
      `[fuzz seed ${SEED}] REST: ${tally.sent} requests, statuses ${JSON.stringify(Object.fromEntries(tally.closes))}, error codes ${JSON.stringify(Object.fromEntries(tally.errors))}, ${tally.violations.length} violations`,
    );
    expect(tally.violations.slice(0, 20)).toEqual([]);
  }, 90_000);

  it('answers a path that is not valid percent-encoding with 404, not 500', async () => {
    for (const path of ['/execute/%E0%A4%A/status', '/execute/%/result', '/execute/%ZZ']) {
      const response = await fetch(`${url}${path}`, { method: path.endsWith('ZZ') ? 'DELETE' : 'GET' });
      expect({ path, status: response.status }).toEqual({ path, status: 404 });
    }
  });
});

describe('slow and silent peers', () => {
  it.each(['uws', 'ws'] as const)(
    'cuts a request whose body trickles in one byte a second (%s transport)',
    async (transport) => {
      const base = transport === 'uws' ? url : (await startGateway({ transport })).url;
      const { port } = new URL(base);
      const socket = connect(Number(port), '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.on('error', () => {});
      const begun = Date.now();
      const closed = new Promise<number>((resolve) =>
        socket.once('close', () => resolve(Date.now() - begun)),
      );
      socket.write(
        'POST /execute/code HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n',
      );
      const drip = setInterval(() => socket.write(' '), 1_000);
      // Both close an HTTP connection that has not finished its request within 10 s (uWS: its idle
      // timeout; ws: the node:http server's requestTimeout).
      const after = await Promise.race([
        closed,
        new Promise<number>((resolve) => setTimeout(() => resolve(-1), 15_000)),
      ]);
      clearInterval(drip);
      socket.destroy();
      console.log(`[fuzz] ${transport}: slow body cut after ${after} ms`);
      expect(after).toBeGreaterThan(0);
      // And it served others meanwhile.
      expect((await fetch(`${base}/execute/health`)).status).toBe(200);
    },
    20_000,
  );
});

describe('after the fuzz', () => {
  it('the job store answers, the runner still runs jobs, and leaves no container behind', async () => {
    const list = await fetch(`${url}/execute?limit=5`);
    expect(list.status).toBe(200);
    expect(await list.json()).toEqual(expect.anything());
    const done = await fetch(`${url}/execute/code`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ lang: 'python', code: 'print("still here")' }),
    });
    expect(done.status).toBe(200);
    expect(await done.json()).toMatchObject({ stdout: 'still here\n', status: 'done' });
    console.log(`[fuzz seed ${SEED}] gateway error-level log lines: ${errorLogs.length}`);
    for (const line of errorLogs.slice(0, 5)) console.log(`  ${line.slice(0, 400)}`);
    await runner.close();
    expect(containersOf(runner.name)).toEqual([]);
    expect(errorLogs).toEqual([]);
  }, 60_000);
});
