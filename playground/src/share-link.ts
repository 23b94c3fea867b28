/// <reference lib="dom" />
// Share links: the language and the code in the URL's fragment, `#lang=python&code=<base64url of
// the UTF-8>`, or `#lang=python&z=<base64url of its deflate-raw>` when that is shorter (long code).
// The fragment never reaches the server, so a shared program is not in anybody's access log.

export interface Shared {
  lang: string;
  code: string;
}

/** The fragment (with its `#`) that restores `shared`. */
export async function encodeShare(shared: Shared): Promise<string> {
  const bytes = new TextEncoder().encode(shared.code);
  const plain = toBase64Url(bytes);
  const packed = toBase64Url(await deflate(bytes));
  const params = new URLSearchParams({ lang: shared.lang });
  if (packed.length < plain.length) params.set('z', packed);
  else params.set('code', plain);
  return `#${params.toString()}`;
}

/** What a fragment shares, or null when it is not a share link (or is damaged). */
export async function decodeShare(hash: string): Promise<Shared | null> {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const lang = params.get('lang');
  if (lang === null || !/^[\w+#.-]{1,32}$/.test(lang)) return null;
  try {
    const plain = params.get('code');
    const packed = params.get('z');
    let bytes: Uint8Array;
    if (plain !== null) bytes = fromBase64Url(plain);
    else if (packed !== null) bytes = await inflate(fromBase64Url(packed));
    else return null;
    return { lang, code: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    return null;
  }
}

export function toBase64Url(bytes: Uint8Array): string {
  let binary = '';
  // In slices: String.fromCharCode(...a million bytes) would overflow the stack.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function fromBase64Url(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error('not base64url');
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

function deflate(bytes: Uint8Array): Promise<Uint8Array> {
  return pipe(bytes, new CompressionStream('deflate-raw'));
}

function inflate(bytes: Uint8Array): Promise<Uint8Array> {
  return pipe(bytes, new DecompressionStream('deflate-raw'));
}

async function pipe(
  bytes: Uint8Array,
  transform: CompressionStream | DecompressionStream,
): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(transform);
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
