// A loopback port free a moment ago. Apart from test/helpers.ts (which loads vitest) so that the
// servers started outside a test run (bench/) can use it too.
import { type AddressInfo, createServer } from 'node:net';

/**
 * A loopback port free a moment ago (the OS's choice), for a server that must be told its port
 * (nginx, PostgreSQL, nats-server, a gateway restarted on the same one).
 */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', resolve);
  });
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
