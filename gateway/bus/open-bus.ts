// Which bus a gateway uses, from CODEEXEC_BUS: unset, the in-process bus (one gateway); a list
// of nats://host:port URLs, the NATS bus (gateways that share a NATS server). Anything else stops
// the start with a message saying what is expected.
import type { Logger } from '../../shared/index.js';
import type { Bus } from './bus.js';
import { InProcessBus } from './in-process-bus.js';
import { NatsBus, type NatsBusOptions } from './nats/nats-bus.js';

/** `servers`: host:port, as nats.js takes them. */
export type BusSpec = { kind: 'in-process' } | { kind: 'nats'; servers: string[] };

const DEFAULT_NATS_PORT = 4222;
const EXPECTED = 'CODEEXEC_BUS must be unset (one gateway) or nats://host:port[,nats://host:port…]';

/** The bus a spec names; throws on anything but nothing or nats:// URLs. */
export function parseBusSpec(spec: string | undefined): BusSpec {
  const items = (spec ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  if (items.length === 0) return { kind: 'in-process' };
  const servers: string[] = [];
  for (const item of items) {
    let url: URL;
    try {
      url = new URL(item);
    } catch {
      throw new Error(`${EXPECTED}; got "${redact(item)}", not a URL`);
    }
    if (url.protocol !== 'nats:') throw new Error(`${EXPECTED}; got "${redact(item)}" (${url.protocol})`);
    if (url.hostname === '') throw new Error(`${EXPECTED}; got "${redact(item)}", without a host`);
    if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
      throw new Error(`${EXPECTED}; got "${redact(item)}", with a path or a query`);
    }
    // nats.js would read a user and password in the URL as part of the host: say so instead.
    if (url.username !== '' || url.password !== '') {
      throw new Error(`${EXPECTED}; got "${redact(item)}": credentials in the URL are not supported`);
    }
    servers.push(`${url.hostname}:${url.port === '' ? DEFAULT_NATS_PORT : url.port}`);
  }
  return { kind: 'nats', servers };
}

/** Opens the bus a spec names (for NATS: connected, or it throws). */
export async function openBus(
  spec: string | undefined,
  log: Logger,
  options: Pick<NatsBusOptions, 'controlTimeoutMs' | 'name'> = {},
): Promise<Bus> {
  const parsed = parseBusSpec(spec);
  if (parsed.kind === 'in-process') return new InProcessBus();
  try {
    const bus = await NatsBus.connect({ servers: parsed.servers, log, ...options });
    log.info({ servers: parsed.servers }, 'bus connected to NATS');
    return bus;
  } catch (err) {
    const servers = parsed.servers.join(', ');
    throw new Error(`CODEEXEC_BUS: no NATS server answered at ${servers}: ${(err as Error).message}`);
  }
}

/** A URL as it may be logged: without a user or password it carries. */
function redact(item: string): string {
  return item.replace(/\/\/[^/@]*@/, '//***@');
}
