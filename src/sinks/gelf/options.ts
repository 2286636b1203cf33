import fs from 'node:fs';
import tls from 'node:tls';
import { LogOptionError } from '../../config/log-opts.js';
import type { GelfCompression } from './compress.js';

/**
 * The gelf sink's options: Docker's (moby daemon/logger/gelf/gelf.go ValidateLogOpt and New) with
 * Docker's error texts, each followed by the accepted form. Beyond Docker: `tls://host:port`
 * (alias `tcp+tls://`) with the syslog driver's TLS option names.
 */
export const GELF_OPTION_NAMES = [
  'gelf-address',
  'gelf-compression-type',
  'gelf-compression-level',
  'gelf-tcp-max-reconnect',
  'gelf-tcp-reconnect-delay',
  'gelf-tls-ca-cert',
  'gelf-tls-cert',
  'gelf-tls-key',
  'gelf-tls-skip-verify',
] as const;

const ADDRESS_FORM = 'gelf-address: udp://host:port, tcp://host:port or tls://host:port';

export interface GelfTlsOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized: boolean;
}

export interface GelfOptions {
  protocol: 'udp' | 'tcp' | 'tls';
  host: string;
  port: number;
  compression: GelfCompression;
  /** -1 (zlib's default, 6) … 9; Docker's default is 1 (BestSpeed). */
  compressionLevel: number;
  /** Retries of one failed TCP batch on new connections before it is dropped (Docker: 3). */
  maxReconnect: number;
  /** First reconnection delay in ms, doubled up to reconnectMaxDelayMs. */
  reconnectDelayMs: number;
  reconnectMaxDelayMs: number;
  tls: GelfTlsOptions | null;
}

function fail(message: string, form: string): never {
  throw new LogOptionError(`${message} (${form})`);
}

/** strconv.Atoi, as Docker applies it: decimal with an optional sign, int64 range. */
function goAtoi(text: string): number | null {
  if (!/^[+-]?\d+$/.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : null;
}

/**
 * Go's url.Parse + net.SplitHostPort as parseAddress uses them: the authority runs to the first
 * `/`, `?` or `#`, user info before the last `@` is ignored, `[v6]:port` for IPv6.
 */
function splitAddress(rest: string): { host: string; port: string } | null {
  let authority = rest;
  const cut = authority.search(/[/?#]/);
  if (cut >= 0) authority = authority.slice(0, cut);
  const at = authority.lastIndexOf('@');
  if (at >= 0) authority = authority.slice(at + 1);
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0 || authority[close + 1] !== ':') return null;
    return { host: authority.slice(1, close), port: authority.slice(close + 2) };
  }
  const colon = authority.lastIndexOf(':');
  if (colon < 0) return null;
  const host = authority.slice(0, colon);
  if (host.includes(':')) return null;
  return { host, port: authority.slice(colon + 1) };
}

function parseAddress(address: string | undefined): { protocol: GelfOptions['protocol']; host: string; port: number } {
  if (address === undefined || address === '') fail('gelf-address is a required parameter', ADDRESS_FORM);
  const m = /^([a-z0-9+.-]+):\/\/(.*)$/i.exec(address);
  const transport = ['tcp://', 'tcp+tls://', 'udp://', 'unix://', 'unixgram://', 'tls://'].some((p) => address.startsWith(p));
  if (!m || !transport) fail(`gelf-address should be in form proto://address, got ${address}`, ADDRESS_FORM);
  const scheme = m[1];
  let protocol: GelfOptions['protocol'];
  if (scheme === 'udp') protocol = 'udp';
  else if (scheme === 'tcp') protocol = 'tcp';
  else if (scheme === 'tls' || scheme === 'tcp+tls') protocol = 'tls';
  else fail('gelf: endpoint needs to be TCP or UDP', ADDRESS_FORM);
  const hp = splitAddress(m[2]);
  const port = hp && /^\d{1,5}$/.test(hp.port) ? Number(hp.port) : 0;
  if (!hp || hp.host === '' || port < 1 || port > 65535) fail('gelf: please provide gelf-address as proto://host:port', ADDRESS_FORM);
  return { protocol, host: hp.host, port };
}

function readPem(option: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    fail(`invalid log opt ${option}=${JSON.stringify(file)}: cannot read the file: ${(err as Error).message}`, `${option}: the path of a PEM file the plugin can read`);
  }
}

/** Validates the gelf options in `raw` (every option name is the owner's) and returns them parsed. */
export function parseGelfOptions(raw: Record<string, string>): GelfOptions {
  const { protocol, host, port } = parseAddress(raw['gelf-address']);
  const opts: GelfOptions = {
    protocol,
    host,
    port,
    compression: 'gzip',
    compressionLevel: 1,
    maxReconnect: 3,
    reconnectDelayMs: 100,
    reconnectMaxDelayMs: 10_000,
    tls: null,
  };

  const type = raw['gelf-compression-type'];
  if (type !== undefined) {
    if (protocol !== 'udp') fail('compression is only supported on UDP', 'gelf-compression-type: only with a udp:// gelf-address');
    if (type !== 'gzip' && type !== 'zlib' && type !== 'none') {
      fail(`unknown value ${JSON.stringify(type)} for log opt "gelf-compression-type" for gelf log driver`, 'gelf-compression-type: gzip, zlib or none');
    }
    opts.compression = type;
  }
  const level = raw['gelf-compression-level'];
  if (level !== undefined) {
    if (protocol !== 'udp') fail('compression is only supported on UDP', 'gelf-compression-level: only with a udp:// gelf-address');
    const n = goAtoi(level);
    if (n === null || n < -1 || n > 9) {
      fail(`unknown value ${JSON.stringify(level)} for log opt "gelf-compression-level" for gelf log driver`, 'gelf-compression-level: an integer from -1 to 9');
    }
    opts.compressionLevel = n;
  }
  for (const key of ['gelf-tcp-max-reconnect', 'gelf-tcp-reconnect-delay'] as const) {
    const v = raw[key];
    if (v === undefined) continue;
    const form = `${key}: a whole number, 0 or more${key === 'gelf-tcp-reconnect-delay' ? ' (seconds)' : ''}, with a tcp:// or tls:// gelf-address`;
    if (protocol === 'udp') fail(`"${key}" is only valid for TCP`, form);
    const n = goAtoi(v);
    if (n === null || n < 0) fail(`"${key}" must be a positive integer`, form);
    if (key === 'gelf-tcp-max-reconnect') opts.maxReconnect = n;
    else {
      // Docker sleeps this many seconds before each redial; here it is the first backoff step.
      opts.reconnectDelayMs = Math.max(100, Math.min(n, 3600) * 1000);
      opts.reconnectMaxDelayMs = Math.max(10_000, opts.reconnectDelayMs);
    }
  }

  const tlsKeys = ['gelf-tls-ca-cert', 'gelf-tls-cert', 'gelf-tls-key', 'gelf-tls-skip-verify'] as const;
  for (const key of tlsKeys) {
    if (raw[key] !== undefined && protocol !== 'tls') fail(`"${key}" is only valid for TLS`, `${key}: only with a tls://host:port gelf-address`);
  }
  if (protocol === 'tls') {
    let skip = false;
    const sv = raw['gelf-tls-skip-verify'];
    if (sv !== undefined) {
      // The syslog driver's rule: the option being present (any value) turns verification off,
      // except that here an explicit false keeps it on.
      skip = !['false', '0', 'f', 'F', 'FALSE', 'False'].includes(sv);
    }
    const t: GelfTlsOptions = { rejectUnauthorized: !skip };
    if (raw['gelf-tls-ca-cert'] !== undefined) t.ca = readPem('gelf-tls-ca-cert', raw['gelf-tls-ca-cert']);
    if (raw['gelf-tls-cert'] !== undefined) t.cert = readPem('gelf-tls-cert', raw['gelf-tls-cert']);
    if (raw['gelf-tls-key'] !== undefined) t.key = readPem('gelf-tls-key', raw['gelf-tls-key']);
    if ((t.cert === undefined) !== (t.key === undefined)) {
      fail('gelf-tls-cert and gelf-tls-key must be given together', 'gelf-tls-cert / gelf-tls-key: a client certificate and its key, PEM');
    }
    try {
      tls.createSecureContext({ ca: t.ca, cert: t.cert, key: t.key });
    } catch (err) {
      const which = t.cert ? 'gelf-tls-cert/gelf-tls-key' : 'gelf-tls-ca-cert';
      fail(`invalid log opt ${which}: ${(err as Error).message}`, 'PEM certificates and an unencrypted PEM key');
    }
    opts.tls = t;
  }
  return opts;
}
