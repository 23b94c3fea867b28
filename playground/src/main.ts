/// <reference lib="dom" />
// codeexec — Playground: the page's entry (bundled by tsup into dist-web/playground/main.js). It
// builds the parts and hands them to the Playground controller.

import { byId } from '../../shared/dom.js';
import { ApiClient } from './api-client.js';
import { createEditor } from './editor.js';
import { GatewaySocket } from './gateway-socket.js';
import { KeyDialog } from './key-dialog.js';
import { browserStorage, KeyStore } from './key-store.js';
import { NoticeView } from './notice-view.js';
import { OutputView } from './output-view.js';
import { Playground } from './playground.js';
import { SessionView } from './session-view.js';

const base = location.href;
const keys = new KeyStore(browserStorage());
let playground: Playground | null = null;
const editor = createEditor(byId('editor'), { code: '', onRun: () => void playground?.run() });
const socket = new GatewaySocket({
  base,
  key: () => keys.get(),
  onFrame: (frame) => playground?.onFrame(frame),
  onInvalid: (problem) => playground?.onInvalid(problem),
  onEnd: (end) => playground?.onSocketEnd(end),
});
playground = new Playground({
  api: new ApiClient(base, () => keys.get()),
  socket,
  keyDialog: new KeyDialog(keys, () => void playground?.keyChanged()),
  editor,
  output: new OutputView({ input: (data) => playground?.input(data), eof: () => playground?.eof() }),
  session: new SessionView(),
  notice: new NoticeView(),
});
void playground.start().then(() => {
  document.body.dataset.ready = 'true';
});
