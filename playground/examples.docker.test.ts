// The code the playground ships in each language, in each language's real sandbox: every example
// the editor starts with runs and greets (with stdin and without), and every file lister that
// session mode runs lists the files a session keeps (a file sent with an earlier execution), its
// own main file left out. Through /execute/ws, as the page sends them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LANGUAGES } from '../shared/languages.js';
import { startGateway, startRunner } from '../test/helpers.js';
import { type Frame, TestSocket } from '../test/ws-client.js';
import { EXAMPLE_OUTPUT, EXAMPLES } from './src/examples.js';
import { LISTING_TASK_ID, listerFor, parseListing } from './src/file-listers.js';

let url = '';
const sockets: TestSocket[] = [];

beforeAll(async () => {
  const gw = await startGateway();
  url = gw.url;
  const runner = await startRunner({ gatewayUrl: gw.url, token: gw.token, slots: 2 });
  await runner.connected();
}, 120_000);

afterAll(() => {
  for (const socket of sockets) socket.close();
});

const exitOf = (ws: TestSocket, id: string): Promise<Frame> =>
  ws.next((f) => f.id === id && (f.type === 'exit' || f.type === 'error'), 90_000);

describe('the playground’s code in every language', () => {
  it.each(LANGUAGES.map((lang) => lang.name))(
    '%s: the example runs, and the lister lists what a session keeps',
    async (lang) => {
      const ws = await TestSocket.open(`${url}/execute/ws`);
      sockets.push(ws);
      const code = EXAMPLES[lang] ?? '';
      ws.send({ type: 'execute', id: 'plain', lang, code });
      ws.send({ type: 'session_open', id: 's', lang });
      ws.send({
        type: 'execute',
        id: 'greet',
        session: 's',
        code,
        stdin: 'Ada\n',
        files: [{ name: 'data/notes.txt', content: 'kept' }],
      });
      ws.send({
        type: 'execute',
        id: 'files',
        session: 's',
        code: listerFor(lang),
        task_id: LISTING_TASK_ID,
      });

      const [plain, greet, files] = await Promise.all([
        exitOf(ws, 'plain'),
        exitOf(ws, 'greet'),
        exitOf(ws, 'files'),
      ]);
      for (const frame of [plain, greet, files]) {
        expect(frame.type, JSON.stringify(frame)).toBe('exit');
        expect(frame.result, JSON.stringify(frame.result)).toMatchObject({ reason: 'exited', exit_code: 0 });
      }
      expect(plain.result.stdout).toBe(EXAMPLE_OUTPUT);
      expect(greet.result.stdout).toBe(EXAMPLE_OUTPUT.replace('world', 'Ada'));
      expect(parseListing(lang, files.result.stdout)).toEqual([{ path: 'data/notes.txt', size: 4 }]);
      ws.send({ type: 'session_close', id: 's' });
      await ws.next((f) => f.type === 'session_closed' && f.id === 's');
    },
    150_000,
  );
});
