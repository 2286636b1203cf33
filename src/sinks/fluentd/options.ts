/**
 * The options of Docker's fluentd driver (moby daemon/logger/fluentd/fluentd.go), with Docker's
 * parsers and error texts. The option set and the address parser follow the current driver
 * (v28: tls://, fluentd-async-reconnect-interval, fluentd-write-timeout, udp/unixgram refused);
 * v20.10.24 additionally accepts the deprecated fluentd-async-connect, which is accepted here too.
 * Every error names the option and the form it accepts.
 */
import { LogOptionError } from '../../config/log-opts.js';
import { GoParseError, parseBool, ramInBytes } from '../../config/go-parse.js';

export const FLUENTD_OPTION_NAMES = [
  'fluentd-address',
  'fluentd-async',
  'fluentd-async-connect',
  'fluentd-async-reconnect-interval',
  'fluentd-buffer-limit',
  'fluentd-retry-wait',
  'fluentd-max-retries',
  'fluentd-sub-second-precision',
  'fluentd-request-ack',
  'fluentd-write-timeout',
] as const;

export interface FluentdAddress {
  protocol: 'tcp' | 'tls' | 'unix';
  host: string;
  port: number;
  path: string;
}

export interface FluentdConfig {
  address: FluentdAddress;
  /** Accepted for compatibility; logfan always sends in the background. */
  async: boolean;
  /** Reconnect (re-resolving the host) when the connection is older than this; 0 = never. */
  asyncReconnectIntervalMs: number;
  /** Docker counts fluentd-buffer-limit in messages: at most this many events are queued. */
  bufferLimit: number;
  /** First reconnect wait, in ms (Docker's fluentd-retry-wait; logfan's default is 100 ms). */
  retryWaitMs: number;
  /** After this many failed connects in a row the queued events are dropped (counted). */
  maxRetries: number;
  subSecondPrecision: boolean;
  requestAck: boolean;
  /** 0 = none. */
  writeTimeoutMs: number;
}

const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_PORT = 24224;
const DEFAULT_BUFFER_LIMIT = 1024 * 1024;
/** fluent-logger-golang's default when the limit is 0. */
const LIBRARY_BUFFER_LIMIT = 8 * 1024;
const DEFAULT_MAX_RETRIES = 2147483647;
/** fluent-logger-golang's default when max-retries is 0. */
const LIBRARY_MAX_RETRIES = 13;
const DEFAULT_RETRY_WAIT_MS = 100;

const ADDRESS_FORM = 'host:port, tcp://host:port, tls://host:port or unix:///path/to/socket; the port defaults to 24224';
const BOOL_FORM = 'true or false';
const DURATION_FORM = 'a Go duration such as 500ms, 1s or 1m30s';

function fail(option: string, value: string, problem: string, accepted: string): never {
  throw new LogOptionError(`invalid log opt ${option}=${JSON.stringify(value)}: ${problem} (${accepted})`);
}

// ---------------------------------------------------------------------------------------------
// time.ParseDuration

const UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3, // U+00B5
  'μs': 1e3, // U+03BC
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go's time.ParseDuration, in nanoseconds (a double: exact to the nanosecond up to ~104 days). */
export function parseGoDuration(text: string): number {
  const quoted = JSON.stringify(text);
  let s = text;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw new GoParseError(`time: invalid duration ${quoted}`);
  let total = 0;
  while (s !== '') {
    const num = /^(\d*)(?:\.(\d*))?/.exec(s)!;
    const whole = num[1];
    const frac = num[2];
    if (whole === '' && (frac === undefined || frac === '')) throw new GoParseError(`time: invalid duration ${quoted}`);
    s = s.slice(num[0].length);
    const unit = /^[^\d.]*/.exec(s)![0];
    if (unit === '') throw new GoParseError(`time: missing unit in duration ${quoted}`);
    const mul = UNITS[unit];
    if (mul === undefined) throw new GoParseError(`time: unknown unit ${JSON.stringify(unit)} in duration ${quoted}`);
    s = s.slice(unit.length);
    let v = (whole === '' ? 0 : Number(whole)) * mul;
    if (frac) v += Math.floor(Number(`0.${frac}`) * mul);
    total += v;
    if (total > 9223372036854775807) throw new GoParseError(`time: invalid duration ${quoted}`);
  }
  return neg ? -total : total;
}

/** Go's %q of a time.Duration value's String(), for the reconnect-interval error. */
function goDurationString(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let v = Math.abs(ns);
  let out: string;
  if (v < 1e3) out = `${v}ns`;
  else if (v < 1e6) out = `${trimFloat(v / 1e3)}µs`;
  else if (v < 1e9) out = `${trimFloat(v / 1e6)}ms`;
  else {
    const h = Math.floor(v / 3600e9);
    v -= h * 3600e9;
    const m = Math.floor(v / 60e9);
    v -= m * 60e9;
    out = `${h > 0 ? `${h}h` : ''}${h > 0 || m > 0 ? `${m}m` : ''}${trimFloat(v / 1e9)}s`;
  }
  return neg ? `-${out}` : out;
}

function trimFloat(x: number): string {
  return String(Number(x.toFixed(9)));
}

// ---------------------------------------------------------------------------------------------
// fluentd-address

class AddressError extends Error {}

/** parseAddress of the current driver; the Go url.Parse subset that addresses use. */
export function parseFluentdAddress(address: string): FluentdAddress {
  if (address === '') return { protocol: 'tcp', host: DEFAULT_HOST, port: DEFAULT_PORT, path: '' };
  let text = address;
  if (!text.includes('://')) text = `tcp://${text}`;
  const sep = text.indexOf('://');
  const rawScheme = text.slice(0, sep);
  if (rawScheme === '') throw new AddressError(`parse ${JSON.stringify(text)}: missing protocol scheme`);
  if (!/^[A-Za-z][A-Za-z0-9+.-]*$/.test(rawScheme)) throw new AddressError(`parse ${JSON.stringify(text)}: first path segment in URL cannot contain colon`);
  const scheme = rawScheme.toLowerCase();
  let rest = text.slice(sep + 3);
  const hashAt = rest.indexOf('#');
  if (hashAt >= 0) rest = rest.slice(0, hashAt);
  const queryAt = rest.indexOf('?');
  if (queryAt >= 0) rest = rest.slice(0, queryAt);
  const slash = rest.indexOf('/');
  const authority = slash >= 0 ? rest.slice(0, slash) : rest;
  const path = slash >= 0 ? rest.slice(slash) : '';

  if (scheme === 'unix') {
    if (path.replace(/^\/+/, '') === '') throw new AddressError('path is empty');
    return { protocol: 'unix', host: '', port: 0, path: decodePath(path) };
  }
  if (scheme !== 'tcp' && scheme !== 'tls') throw new AddressError(`unsupported scheme: '${scheme}'`);

  // Go's url.Parse checks the authority before the driver looks at the path.
  const hostPort = authority.includes('@') ? authority.slice(authority.lastIndexOf('@') + 1) : authority;
  let host: string;
  let port = '';
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close < 0) throw new AddressError(`parse ${JSON.stringify(text)}: missing ']' in host`);
    host = hostPort.slice(1, close);
    const after = hostPort.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) throw new AddressError(`parse ${JSON.stringify(text)}: invalid port ${JSON.stringify(after)} after host`);
      port = after.slice(1);
    }
  } else {
    const colon = hostPort.lastIndexOf(':');
    if (colon >= 0) {
      host = hostPort.slice(0, colon);
      port = hostPort.slice(colon + 1);
    } else host = hostPort;
  }
  if (port !== '' && !/^\d+$/.test(port)) throw new AddressError(`parse ${JSON.stringify(text)}: invalid port ${JSON.stringify(`:${port}`)} after host`);
  if (path !== '') throw new AddressError('should not contain a path element');
  let portNum = DEFAULT_PORT;
  if (port !== '') {
    portNum = Number(port);
    if (portNum > 65535) throw new AddressError(`invalid port: strconv.ParseUint: parsing ${JSON.stringify(port)}: value out of range`);
  }
  return { protocol: scheme, host: host === '' ? DEFAULT_HOST : host, port: portNum, path: '' };
}

function decodePath(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    return p;
  }
}

// ---------------------------------------------------------------------------------------------

function parseBoolOption(raw: Record<string, string>, option: string): boolean {
  const v = raw[option];
  if (v === undefined || v === '') return false;
  try {
    return parseBool(v);
  } catch (err) {
    fail(option, v, (err as Error).message, BOOL_FORM);
  }
}

/** strconv.ParseUint(s, 10, 32). */
function parseUint32(text: string): number {
  if (!/^\d+$/.test(text)) throw new GoParseError(`strconv.ParseUint: parsing ${JSON.stringify(text)}: invalid syntax`);
  const n = Number(text);
  if (n > 4294967295) throw new GoParseError(`strconv.ParseUint: parsing ${JSON.stringify(text)}: value out of range`);
  return n;
}

/** parseConfig: throws LogOptionError naming the option. */
export function parseFluentdOptions(raw: Record<string, string>): FluentdConfig {
  const addressText = raw['fluentd-address'] ?? '';
  let address: FluentdAddress;
  try {
    address = parseFluentdAddress(addressText);
  } catch (err) {
    fail('fluentd-address', addressText, `invalid fluentd-address (${addressText}): ${(err as Error).message}`, ADDRESS_FORM);
  }

  let bufferLimit = DEFAULT_BUFFER_LIMIT;
  const bl = raw['fluentd-buffer-limit'];
  if (bl !== undefined && bl !== '') {
    try {
      bufferLimit = ramInBytes(bl);
    } catch (err) {
      fail('fluentd-buffer-limit', bl, (err as Error).message, 'a number of events, optionally with a k or m suffix (binary units), e.g. 8k');
    }
    if (bufferLimit === 0) bufferLimit = LIBRARY_BUFFER_LIMIT;
  }

  let retryWaitMs = DEFAULT_RETRY_WAIT_MS;
  const rw = raw['fluentd-retry-wait'];
  if (rw !== undefined && rw !== '') {
    try {
      retryWaitMs = Math.trunc(parseGoDuration(rw) / 1e6);
    } catch (err) {
      fail('fluentd-retry-wait', rw, (err as Error).message, DURATION_FORM);
    }
    if (retryWaitMs <= 0) retryWaitMs = DEFAULT_RETRY_WAIT_MS;
  }

  let maxRetries = DEFAULT_MAX_RETRIES;
  const mr = raw['fluentd-max-retries'];
  if (mr !== undefined && mr !== '') {
    try {
      maxRetries = parseUint32(mr);
    } catch (err) {
      fail('fluentd-max-retries', mr, (err as Error).message, 'a whole number from 0 to 2147483647');
    }
    if (maxRetries > DEFAULT_MAX_RETRIES) fail('fluentd-max-retries', mr, 'invalid fluentd-max-retries: value out of range', 'a whole number from 0 to 2147483647');
    if (maxRetries === 0) maxRetries = LIBRARY_MAX_RETRIES;
  }

  const asyncSet = raw['fluentd-async'] !== undefined && raw['fluentd-async'] !== '';
  const asyncConnectSet = raw['fluentd-async-connect'] !== undefined && raw['fluentd-async-connect'] !== '';
  if (asyncSet && asyncConnectSet) {
    // v20.10.24's text, missing quote included.
    fail('fluentd-async', raw['fluentd-async'], "conflicting options: cannot specify both 'fluentd-async' and 'fluentd-async-connect", 'set only fluentd-async');
  }
  const async = parseBoolOption(raw, 'fluentd-async') || parseBoolOption(raw, 'fluentd-async-connect');

  let asyncReconnectIntervalMs = 0;
  const ri = raw['fluentd-async-reconnect-interval'];
  if (ri !== undefined && ri !== '') {
    const form = 'a Go duration between 100ms and 10s, or 0';
    let ns = 0;
    try {
      ns = parseGoDuration(ri);
    } catch (err) {
      fail('fluentd-async-reconnect-interval', ri, `invalid value for fluentd-async-reconnect-interval: ${(err as Error).message}`, form);
    }
    if (ns !== 0) {
      if (ns < 100e6 || ns > 10e9) {
        fail('fluentd-async-reconnect-interval', ri, `invalid value for fluentd-async-reconnect-interval: value (${JSON.stringify(goDurationString(ns))}) must be between 100ms and 10s`, form);
      }
      asyncReconnectIntervalMs = Math.trunc(ns / 1e6);
    }
  }

  const subSecondPrecision = parseBoolOption(raw, 'fluentd-sub-second-precision');
  const requestAck = parseBoolOption(raw, 'fluentd-request-ack');

  let writeTimeoutMs = 0;
  const wt = raw['fluentd-write-timeout'];
  if (wt !== undefined && wt !== '') {
    const form = 'a non-negative Go duration such as 5s; 0 means none';
    let ns = 0;
    try {
      ns = parseGoDuration(wt);
    } catch (err) {
      fail('fluentd-write-timeout', wt, `invalid value for fluentd-write-timeout: value must be a duration: ${(err as Error).message}`, form);
    }
    if (ns < 0) fail('fluentd-write-timeout', wt, 'invalid value for fluentd-write-timeout: value must be a duration that is non-negative', form);
    writeTimeoutMs = ns === 0 ? 0 : Math.max(1, Math.trunc(ns / 1e6));
  }

  return { address, async, asyncReconnectIntervalMs, bufferLimit, retryWaitMs, maxRetries, subSecondPrecision, requestAck, writeTimeoutMs };
}
