// An exec started before its job (see PreparedExec): the launcher waits on stdin; run() writes the
// argv and the job's input, then reads the output as any exec does. Whatever the launcher says
// before run() is kept, in order, for the demultiplexer.
import type { Duplex } from 'node:stream';
import { OutputHead, pump } from './exec-stream.js';
import { LaunchAck, launcherHeader } from './launcher.js';
import type { ExecRequest, PreparedExec } from './sandbox-driver.js';
import { ExecNotStartedError } from './sandbox-errors.js';

/**
 * Wraps a started launcher exec's stream. `onEnd` fires once if it ends before run() (the
 * container died, the process failed); `exitCode` asks the engine how the program ended.
 */
export function preparedExec(
  socket: Duplex,
  onEnd: () => void,
  exitCode: (said: () => string) => Promise<number | null>,
): PreparedExec {
  let state: 'waiting' | 'running' | 'ended' = 'waiting';
  const early: Buffer[] = [];
  const onData = (chunk: Buffer) => early.push(chunk);
  const onGone = () => {
    if (state !== 'waiting') return;
    state = 'ended';
    onEnd();
  };
  const detach = () => {
    socket.off('data', onData);
    socket.off('end', onGone);
    socket.off('close', onGone);
    socket.off('error', onGone);
  };
  socket.on('data', onData);
  socket.on('end', onGone);
  socket.on('close', onGone);
  socket.on('error', onGone);
  return {
    get alive() {
      return state === 'waiting' && !socket.destroyed;
    },
    run: async (request: ExecRequest) => {
      if (state !== 'waiting' || socket.destroyed) {
        state = 'ended';
        detach();
        socket.destroy();
        throw new ExecNotStartedError(new Error('the prepared exec has ended'));
      }
      state = 'running';
      // Synchronous from here to pump()'s listeners: no chunk can slip between them.
      detach();
      if (early.length > 0) socket.unshift(Buffer.concat(early));
      const header = launcherHeader(request.argv);
      const input = request.input === null ? header : Buffer.concat([header, request.input]);
      const head = new OutputHead(request.onOutput);
      const ack = new LaunchAck(head.onOutput);
      request.onStarted?.();
      const end = await pump(socket, { ...request, input, onOutput: ack.onOutput });
      if (end === 'abandoned') return null;
      if (end === 'corrupt') throw new Error('docker exec: the output stream is not a multiplexed stream');
      if (!ack.launched) throw new ExecNotStartedError(new Error(`the launcher ended first${ack.said}`));
      return exitCode(() => head.said);
    },
    discard: () => {
      if (state === 'waiting') state = 'ended';
      detach();
      socket.on('error', () => {});
      socket.destroy();
    },
  };
}
