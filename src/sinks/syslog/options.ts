/**
 * The syslog sink's options, with the names, defaults, parsers and error texts of Docker's
 * built-in syslog driver (moby v20.10.24 daemon/logger/syslog/syslog.go, pkg/urlutil,
 * vendor/github.com/docker/go-connections/tlsconfig). Each Docker error is wrapped in a
 * LogOptionError that names the option and the form it accepts.
 */
import fs from 'node:fs';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import net from 'node:net';
import { LogOptionError } from '../../config/log-opts.js';

export const SYSLOG_OPTION_NAMES = [
  'syslog-address',
  'syslog-facility',
  'syslog-format',
  'syslog-tls-ca-cert',
  'syslog-tls-cert',
  'syslog-tls-key',
  'syslog-tls-skip-verify',
  // tag, labels, labels-regex, env and env-regex are logfan's shared options.
] as const;

export type SyslogProto = 'udp' | 'tcp' | 'tcp+tls' | 'unix' | 'unixgram' | 'local';
export type SyslogFormat = '' | 'rfc3164' | 'rfc5424' | 'rfc5424micro';

export interface SyslogAddress {
  proto: SyslogProto;
  /** host for udp/tcp/tcp+tls (brackets removed), socket path for unix/unixgram, '' for local. */
  host: string;
  port: number;
  path: string;
  /** What the user wrote, for messages. */
  text: string;
}

export interface SyslogTlsOptions {
  /** undefined = Node's root store only. */
  ca: string[] | undefined;
  cert: Buffer | undefined;
  key: Buffer | undefined;
  rejectUnauthorized: boolean;
}

export interface SyslogOptions {
  address: SyslogAddress;
  /** facility << 3 */
  facility: number;
  format: SyslogFormat;
  /** RFC 5425 octet counting: rfc5424/rfc5424micro over tcp+tls only, as Docker. */
  octetCounting: boolean;
  tls: SyslogTlsOptions | null;
}

const FACILITIES: Record<string, number> = {
  kern: 0,
  user: 1,
  mail: 2,
  daemon: 3,
  auth: 4,
  syslog: 5,
  lpr: 6,
  news: 7,
  uucp: 8,
  cron: 9,
  authpriv: 10,
  ftp: 11,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
};

const TRANSPORT_PREFIXES = ['tcp://', 'tcp+tls://', 'udp://', 'unix://', 'unixgram://'];

function fail(option: string, value: string, problem: string, accepted: string): never {
  throw new LogOptionError(`invalid log opt ${option}=${JSON.stringify(value)}: ${problem} (${accepted})`);
}

const ADDRESS_FORM = 'udp://host[:port], tcp://host[:port], tcp+tls://host[:port], unix:///path or unixgram:///path; the port defaults to 514';

/** Go's url.PathUnescape, enough for socket paths. */
function unescapePath(p: string, whole: string): string {
  if (!p.includes('%')) return p;
  try {
    return decodeURIComponent(p);
  } catch {
    const bad = /%(?![0-9a-fA-F]{2}).{0,2}/.exec(p)?.[0] ?? '%';
    throw new Error(`parse ${JSON.stringify(whole)}: invalid URL escape ${JSON.stringify(bad)}`);
  }
}

/** parseAddress of syslog.go: url.Parse, unix paths must exist, the port defaults to 514. */
export function parseSyslogAddress(address: string): SyslogAddress {
  const option = 'syslog-address';
  if (address === '') return { proto: 'local', host: '', port: 0, path: '', text: '' };
  if (!TRANSPORT_PREFIXES.some((p) => address.startsWith(p))) {
    fail(option, address, `syslog-address should be in form proto://address, got ${address}`, ADDRESS_FORM);
  }
  const sep = address.indexOf('://');
  const scheme = address.slice(0, sep) as Exclude<SyslogProto, 'local'>;
  let rest = address.slice(sep + 3);
  // url.Parse: the fragment and query are cut off before the authority and path are split.
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  const q = rest.indexOf('?');
  if (q >= 0) rest = rest.slice(0, q);
  const slash = rest.indexOf('/');
  const authority = slash >= 0 ? rest.slice(0, slash) : rest;
  const rawPath = slash >= 0 ? rest.slice(slash) : '';
  let host = authority;
  const at = host.lastIndexOf('@');
  if (at >= 0) host = host.slice(at + 1);
  if (/[\s\x00-\x1f\x7f]/.test(address)) {
    fail(option, address, `parse ${JSON.stringify(address)}: net/url: invalid control character in URL`, ADDRESS_FORM);
  }

  if (scheme === 'unix' || scheme === 'unixgram') {
    let path: string;
    try {
      path = unescapePath(rawPath, address);
    } catch (err) {
      fail(option, address, (err as Error).message, ADDRESS_FORM);
    }
    try {
      fs.statSync(path);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why = e.code === 'ENOENT' ? 'no such file or directory' : e.code === 'EACCES' ? 'permission denied' : e.message;
      fail(option, address, `stat ${path}: ${why}`, 'the socket must exist when the container starts');
    }
    return { proto: scheme, host: '', port: 0, path, text: address };
  }

  // url.Parse checks the port after the host; then net.SplitHostPort, where only a missing port
  // is forgiven (":514" is added).
  let hostPart: string;
  let portPart: string | null;
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    if (close < 0) fail(option, address, `parse ${JSON.stringify(address)}: missing ']' in host`, ADDRESS_FORM);
    hostPart = host.slice(1, close);
    const after = host.slice(close + 1);
    if (after === '') portPart = null;
    else if (after.startsWith(':')) portPart = after.slice(1);
    else fail(option, address, `parse ${JSON.stringify(address)}: invalid port ${JSON.stringify(after)} after host`, ADDRESS_FORM);
  } else {
    const colon = host.lastIndexOf(':');
    if (colon >= 0 && /^[0-9]*$/.test(host.slice(colon + 1)) === false) {
      fail(option, address, `parse ${JSON.stringify(address)}: invalid port ${JSON.stringify(host.slice(colon))} after host`, ADDRESS_FORM);
    }
    if (colon >= 0 && host.indexOf(':') !== colon) {
      fail(option, address, `address ${host}: too many colons in address`, ADDRESS_FORM);
    }
    hostPart = colon >= 0 ? host.slice(0, colon) : host;
    portPart = colon >= 0 ? host.slice(colon + 1) : null;
  }
  if (portPart === null) portPart = '514';
  // Go would dial port 0 for "host:" and fail later; refuse it here.
  if (portPart === '' || Number(portPart) > 65535) {
    fail(option, address, `invalid port ${JSON.stringify(portPart)}`, ADDRESS_FORM);
  }
  if (hostPart === '') hostPart = 'localhost';
  return { proto: scheme, host: hostPart, port: Number(portPart), path: '', text: address };
}

/** parseFacility: a name or 0..23; returns facility << 3. */
export function parseSyslogFacility(facility: string): number {
  if (facility === '') return 3 << 3;
  const named = FACILITIES[facility];
  if (named !== undefined) return named << 3;
  if (/^[+-]?\d+$/.test(facility)) {
    const n = Number(facility);
    if (n >= 0 && n <= 23) return n << 3;
  }
  fail('syslog-facility', facility, 'invalid syslog facility', `one of ${Object.keys(FACILITIES).join(', ')}, or a number from 0 to 23`);
}

export function parseSyslogFormat(format: string): SyslogFormat {
  if (format === '' || format === 'rfc3164' || format === 'rfc5424' || format === 'rfc5424micro') return format;
  fail('syslog-format', format, 'Invalid syslog format', 'empty for the Unix format, rfc3164, rfc5424 or rfc5424micro');
}

function goOpenError(file: string, err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const why =
    e.code === 'ENOENT' ? 'no such file or directory' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EISDIR' ? 'is a directory' : e.message;
  return e.code === 'EISDIR' ? `read ${file}: ${why}` : `open ${file}: ${why}`;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** tlsconfig.Client as Docker calls it: CA added to the roots, optional client pair, skip-verify by presence. */
export function parseSyslogTls(raw: Record<string, string>): SyslogTlsOptions {
  const skipVerify = raw['syslog-tls-skip-verify'] !== undefined;
  const caFile = raw['syslog-tls-ca-cert'] ?? '';
  const certFile = raw['syslog-tls-cert'] ?? '';
  const keyFile = raw['syslog-tls-key'] ?? '';
  let ca: string[] | undefined;
  if (!skipVerify && caFile !== '') {
    let pem: string;
    try {
      pem = fs.readFileSync(caFile, 'latin1');
    } catch (err) {
      fail('syslog-tls-ca-cert', caFile, `could not read CA certificate ${JSON.stringify(caFile)}: ${goOpenError(caFile, err)}`, 'a PEM file of CA certificates');
    }
    const certs: string[] = [];
    for (const block of pem.match(PEM_CERT) ?? []) {
      try {
        new X509Certificate(block);
        certs.push(block);
      } catch {
        // AppendCertsFromPEM skips blocks it cannot parse.
      }
    }
    if (certs.length === 0) {
      fail('syslog-tls-ca-cert', caFile, `failed to append certificates from PEM file: ${JSON.stringify(caFile)}`, 'a PEM file of CA certificates');
    }
    ca = certs;
  }
  let cert: Buffer | undefined;
  let key: Buffer | undefined;
  if (certFile !== '' || keyFile !== '') {
    const pairForm = 'syslog-tls-cert and syslog-tls-key: PEM files of a client certificate and its unencrypted key';
    const msg = 'Could not load X509 key pair';
    try {
      cert = fs.readFileSync(certFile);
    } catch (err) {
      fail('syslog-tls-cert', certFile, `${msg}: ${goOpenError(certFile, err)}`, pairForm);
    }
    try {
      key = fs.readFileSync(keyFile);
    } catch (err) {
      fail('syslog-tls-key', keyFile, `${msg}: ${goOpenError(keyFile, err)}`, pairForm);
    }
    const keyText = key.toString('latin1');
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(keyText)) {
      fail('syslog-tls-key', keyFile, `${msg}: no valid private key found`, pairForm);
    }
    if (/Proc-Type: 4,ENCRYPTED|BEGIN ENCRYPTED PRIVATE KEY/.test(keyText)) {
      fail('syslog-tls-key', keyFile, `${msg}: private key is encrypted, but could not decrypt it: x509: decryption password incorrect`, pairForm);
    }
    let certObj: X509Certificate;
    try {
      certObj = new X509Certificate(cert);
    } catch (err) {
      fail('syslog-tls-cert', certFile, `${msg}: tls: failed to find any PEM data in certificate input (${(err as Error).message})`, pairForm);
    }
    let keyObj;
    try {
      keyObj = createPrivateKey(key);
    } catch (err) {
      fail('syslog-tls-key', keyFile, `${msg}: tls: failed to parse private key (${(err as Error).message})`, pairForm);
    }
    if (!certObj.checkPrivateKey(keyObj)) {
      fail('syslog-tls-key', keyFile, `${msg}: tls: private key does not match public key`, pairForm);
    }
  }
  return { ca, cert, key, rejectUnauthorized: !skipVerify };
}

/** Everything Docker checks, at container start (Docker checks address/facility/format at create, TLS at start). */
export function parseSyslogOptions(raw: Record<string, string>): SyslogOptions {
  const address = parseSyslogAddress(raw['syslog-address'] ?? '');
  const facility = parseSyslogFacility(raw['syslog-facility'] ?? '');
  const format = parseSyslogFormat(raw['syslog-format'] ?? '');
  const tls = address.proto === 'tcp+tls' ? parseSyslogTls(raw) : null;
  const octetCounting = address.proto === 'tcp+tls' && (format === 'rfc5424' || format === 'rfc5424micro');
  return { address, facility, format, octetCounting, tls };
}

export function isIpAddress(host: string): boolean {
  return net.isIP(host) !== 0;
}

/** Addresses with a connection (and so a delivery that can be retried): what spool=disk works for. */
export function isStreamProto(proto: SyslogProto): boolean {
  return proto === 'tcp' || proto === 'tcp+tls' || proto === 'unix';
}
