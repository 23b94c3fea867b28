// How a browser authenticates a WebSocket: it cannot set an Authorization header on one, so the
// key rides in Sec-WebSocket-Protocol as `codeexec.bearer.<base64url(key)>`, beside the protocol
// name `codeexec`, which the gateway chooses in its answer (the key is never echoed back).
// Plain code with no Node imports: the gateway and the web pages both use it.

/** The subprotocol the gateway selects when a client offers it. */
export const WS_PROTOCOL = 'codeexec';
const BEARER_PREFIX = 'codeexec.bearer.';

/** The protocols a browser passes to `new WebSocket(url, protocols)` to send `key`. */
export function wsProtocols(key: string | null): string[] {
  return key ? [WS_PROTOCOL, BEARER_PREFIX + toBase64Url(key)] : [WS_PROTOCOL];
}

/** The key carried in a Sec-WebSocket-Protocol header, if any (null when absent or not decodable). */
export function keyFromProtocols(header: string | undefined): string | null {
  if (!header) return null;
  for (const entry of header.split(',')) {
    const protocol = entry.trim();
    if (protocol.startsWith(BEARER_PREFIX)) return fromBase64Url(protocol.slice(BEARER_PREFIX.length));
  }
  return null;
}

/** The protocol the server answers with: `codeexec` when offered, else the first one offered. */
export function chooseProtocol(header: string | undefined): string {
  const offered = (header ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  return offered.includes(WS_PROTOCOL) ? WS_PROTOCOL : (offered[0] ?? '');
}

function toBase64Url(text: string): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text: string): string | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  try {
    const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
    const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}
