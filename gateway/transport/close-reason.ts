// A WebSocket close frame's reason is at most 123 bytes of valid UTF-8 (RFC 6455 5.5, 5.5.1).
// Reasons are often made from messages that quote what a peer sent (a bad frame, a name), so they
// may hold anything: lone surrogates, long multi-byte text. `ws` throws on a reason too long (and
// the gateway would die of it); uWS sends invalid UTF-8 as is and the peer sees 1006.

const MAX_BYTES = 123;
const encoder = new TextEncoder();

/** `reason` made well-formed (lone surrogates → U+FFFD) and cut to 123 bytes on a character edge. */
export function closeReason(reason: string): string {
  const whole = reason.replace(
    /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g,
    '\uFFFD',
  );
  if (encoder.encode(whole).length <= MAX_BYTES) return whole;
  let out = '';
  let bytes = 0;
  for (const char of whole) {
    const size = encoder.encode(char).length;
    if (bytes + size > MAX_BYTES) break;
    out += char;
    bytes += size;
  }
  return out;
}
