// Where a callback may go: which IP addresses are internal (loopback, private, link-local with
// the cloud metadata service, multicast, reserved…) and so refused, and the operator's allowlist
// (CODEEXEC_CALLBACK_ALLOW) that admits some anyway. Pure: addresses in, verdicts out.
import { BlockList, isIP } from 'node:net';

/** Why an address is refused: the closed set of classes, each with how a message names it. */
export const ADDRESS_CLASSES = {
  loopback: 'a loopback address',
  unspecified: 'an unspecified ("this host") address',
  private: 'a private address',
  shared: 'a carrier-grade NAT (shared) address',
  link_local: 'a link-local address (where cloud metadata services answer)',
  multicast: 'a multicast address',
  reserved: 'a reserved or broadcast address',
  documentation: 'a documentation address',
} as const;
export type AddressClass = keyof typeof ADDRESS_CLASSES;

type Ranges = readonly (readonly [cidr: string, cls: AddressClass])[];

// IANA's special-purpose registries (RFC 6890 and its updates), less what may be called back.
const V4_RANGES: Ranges = [
  ['0.0.0.0/8', 'unspecified'], // "this network": a connect to 0.0.0.0 reaches this host
  ['127.0.0.0/8', 'loopback'],
  ['10.0.0.0/8', 'private'],
  ['172.16.0.0/12', 'private'],
  ['192.168.0.0/16', 'private'],
  ['100.64.0.0/10', 'shared'],
  ['169.254.0.0/16', 'link_local'], // 169.254.169.254: AWS, GCP and Azure metadata
  ['192.0.0.0/24', 'reserved'], // IETF protocol assignments
  ['192.0.2.0/24', 'documentation'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['192.88.99.0/24', 'reserved'], // the old 6to4 relay anycast
  ['198.18.0.0/15', 'reserved'], // benchmarking
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'], // includes 255.255.255.255, the broadcast address
];

const V6_RANGES: Ranges = [
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['fc00::/7', 'private'], // unique local
  ['fec0::/10', 'private'], // the deprecated site-local
  ['fe80::/10', 'link_local'], // fd00:ec2::254 is AWS metadata's IPv6 (in fc00::/7 above)
  ['ff00::/8', 'multicast'],
  ['2001:db8::/32', 'documentation'],
  ['3fff::/20', 'documentation'],
  ['100::/64', 'reserved'], // discard-only
  ['2001::/23', 'reserved'], // IETF protocol assignments, Teredo (2001::/32) among them
  ['64:ff9b:1::/48', 'reserved'], // local-use NAT64: a private network's translator
];

/**
 * IPv6 forms that carry an IPv4 address, and where (the index of its first 16-bit group): a
 * connection to one reaches (or is translated to) that IPv4 address, so it is judged as that.
 */
interface Embedding {
  list: BlockList;
  at: number;
}
const embedding = (cidr: string, at: number): Embedding => ({ list: blockList('ipv6', [cidr]), at });
/** The same destination as the IPv4 address: ::ffff:127.0.0.1 is 127.0.0.1. */
const MAPPED = embedding('::ffff:0:0/96', 6);
/** The well-known NAT64 prefix: how an IPv6-only network reaches an IPv4 address. */
const NAT64 = embedding('64:ff9b::/96', 6);
const SIX_TO_FOUR = embedding('2002::/16', 1);
/** Deprecated IPv4-compatible addresses (:: and ::1 are matched before). */
const COMPATIBLE = embedding('::/96', 6);

function blockList(family: 'ipv4' | 'ipv6', cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address, prefix] = cidr.split('/') as [string, string];
    list.addSubnet(address, Number(prefix), family);
  }
  return list;
}

// BlockList matches an IPv4 address against IPv4-mapped IPv6 rules and the reverse; each list
// here holds one family and is asked only about addresses of that family, so that never applies.
const listed = (family: 'ipv4' | 'ipv6', ranges: Ranges) =>
  ranges.map(([cidr, cls]) => [cls, blockList(family, [cidr])] as const);
const V4_LISTS = listed('ipv4', V4_RANGES);
const V6_LISTS = listed('ipv6', V6_RANGES);
const GLOBAL_V6 = blockList('ipv6', ['2000::/3']);

/** An address without its zone (`fe80::1%eth0`), which BlockList does not read. */
function unzoned(address: string): string {
  const percent = address.indexOf('%');
  return percent === -1 ? address : address.slice(0, percent);
}

/** The eight 16-bit groups of a valid IPv6 address (one isIP accepted, zone removed). */
function groupsOf(address: string): number[] {
  let text = address;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::') as [string, string | undefined];
  const parse = (part: string) =>
    part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16));
  if (tail === undefined) return parse(head);
  const [left, right] = [parse(head), parse(tail)];
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

function ipv4At(groups: readonly number[], at: number): string {
  const [high = 0, low = 0] = groups.slice(at, at + 2);
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

/** The class that forbids `address`, or null for a public address. Throws for a non-address. */
export function classifyAddress(address: string): AddressClass | null {
  const ip = unzoned(address);
  const family = isIP(ip);
  if (family === 4) return V4_LISTS.find(([, list]) => list.check(ip, 'ipv4'))?.[0] ?? null;
  if (family !== 6) throw new TypeError(`not an IP address: ${address}`);
  const embedded = (form: Embedding) => ipv4At(groupsOf(ip), form.at);
  if (MAPPED.list.check(ip, 'ipv6')) return classifyAddress(embedded(MAPPED));
  const direct = V6_LISTS.find(([, list]) => list.check(ip, 'ipv6'))?.[0];
  if (direct) return direct;
  for (const form of [NAT64, SIX_TO_FOUR, COMPATIBLE]) {
    if (form.list.check(ip, 'ipv6')) {
      const inner = classifyAddress(embedded(form));
      if (inner) return inner;
    }
  }
  if (NAT64.list.check(ip, 'ipv6')) return null;
  // Global unicast (6to4 of a public address among it); any other IPv6 address is reserved or
  // unassigned (IPv4-compatible forms of public addresses among them).
  return GLOBAL_V6.check(ip, 'ipv6') ? null : 'reserved';
}

/** The IPv4 address an IPv4-mapped IPv6 address is (the same destination), else null. */
export function mappedIpv4(address: string): string | null {
  const ip = unzoned(address);
  if (isIP(ip) !== 6 || !MAPPED.list.check(ip, 'ipv6')) return null;
  return ipv4At(groupsOf(ip), MAPPED.at);
}

export type AddressVerdict =
  | { allowed: true; by: 'public' | 'allowlist' }
  | { allowed: false; class: AddressClass };

/** Whether a callback may connect to `address`: the allowlist first, then the classes. */
export function checkAddress(address: string, allow: CallbackAllowlist): AddressVerdict {
  if (allow.admitsAddress(address)) return { allowed: true, by: 'allowlist' };
  const cls = classifyAddress(address);
  return cls === null ? { allowed: true, by: 'public' } : { allowed: false, class: cls };
}

const ALLOW_VARIABLE = 'CODEEXEC_CALLBACK_ALLOW';
/** A DNS name: labels of letters, digits, hyphens (and underscores, seen in real names). */
const HOST_NAME =
  /^(?=.{1,253}\.?$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/i;

/**
 * The operator's exceptions (CODEEXEC_CALLBACK_ALLOW): CIDRs (`10.1.0.0/16`, `fd00::/8`), single
 * IP addresses, and host names, matched exactly (case aside) against the callback URL's host.
 */
export class CallbackAllowlist {
  readonly #v4 = new BlockList();
  readonly #v6 = new BlockList();
  readonly #hosts = new Set<string>();
  readonly entries: readonly string[];

  private constructor(entries: readonly string[]) {
    this.entries = entries;
  }

  /** Parses the entries; a bad one throws, naming CODEEXEC_CALLBACK_ALLOW and the entry. */
  static parse(entries: readonly string[]): CallbackAllowlist {
    const allow = new CallbackAllowlist(entries);
    for (const entry of entries) allow.#add(entry.trim());
    return allow;
  }

  static readonly none = CallbackAllowlist.parse([]);

  /** A URL's host (as `new URL` spells it) named by a host-name entry. */
  admitsHost(hostname: string): boolean {
    return this.#hosts.has(hostname.toLowerCase());
  }

  /** An address inside an IP or CIDR entry (an IPv4-mapped address as its IPv4 address). */
  admitsAddress(address: string): boolean {
    const ip = unzoned(address);
    const family = isIP(ip);
    if (family === 4) return this.#v4.check(ip, 'ipv4');
    if (family !== 6) return false;
    const v4 = mappedIpv4(ip);
    return this.#v6.check(ip, 'ipv6') || (v4 !== null && this.#v4.check(v4, 'ipv4'));
  }

  #add(entry: string): void {
    const bad = (why: string) => new Error(`${ALLOW_VARIABLE}: "${entry}" ${why}`);
    const slash = entry.indexOf('/');
    const address = unzoned(slash === -1 ? entry : entry.slice(0, slash)).replace(/^\[(.*)\]$/, '$1');
    const family = isIP(address);
    if (slash !== -1 || family !== 0) {
      if (family === 0) throw bad('is not a CIDR: the part before / is not an IP address');
      const max = family === 4 ? 32 : 128;
      const prefix = slash === -1 ? String(max) : entry.slice(slash + 1);
      if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) {
        throw bad(`is not a CIDR: an IPv${family} prefix length is a whole number from 0 to ${max}`);
      }
      if (family === 4) this.#v4.addSubnet(address, Number(prefix), 'ipv4');
      else this.#v6.addSubnet(address, Number(prefix), 'ipv6');
      return;
    }
    if (!HOST_NAME.test(entry)) {
      throw bad('is not a CIDR (10.0.0.0/8, fd00::/8), an IP address (dotted, or IPv6) or a host name');
    }
    // URLs read numeric-looking hosts (0x7f.1, 2130706433) as IPv4: such a "name" never matches.
    let hostname: string;
    try {
      hostname = new URL(`http://${entry}/`).hostname;
    } catch {
      throw bad('is not a host name a URL can have');
    }
    if (isIP(hostname) !== 0) throw bad(`is the IP address ${hostname}: write it so`);
    this.#hosts.add(hostname);
  }
}
