import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogOptionError, parseLogOptions } from '../../../src/config/log-opts.js';
import { parseSyslogAddress, parseSyslogFacility, parseSyslogFormat, parseSyslogOptions, parseSyslogTls } from '../../../src/sinks/syslog/options.js';
import { syslogSinkFactory } from '../../../src/sinks/syslog/index.js';

let dir: string;
let sockPath: string;
let server: net.Server;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logfan-syslog-opts-'));
  sockPath = path.join(dir, 's.sock');
  server = net.createServer();
  await new Promise<void>((r) => server.listen(sockPath, r));
  const q = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  q(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=t']);
  q(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other-key.pem', '-out', 'other.pem', '-days', '2', '-subj', '/CN=o']);
  q(['genpkey', '-algorithm', 'RSA', '-aes-128-cbc', '-pass', 'pass:x', '-out', 'enc-key.pem']);
  fs.writeFileSync(path.join(dir, 'garbage.pem'), 'not a certificate\n');
});

afterAll(() => {
  server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function err(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(LogOptionError);
    return (e as Error).message;
  }
  throw new Error('did not throw');
}

describe('syslog-address (Docker parseAddress)', () => {
  it('adds port 514 when missing, for every network scheme', () => {
    expect(parseSyslogAddress('udp://example.com')).toMatchObject({ proto: 'udp', host: 'example.com', port: 514 });
    expect(parseSyslogAddress('tcp://10.0.0.1')).toMatchObject({ proto: 'tcp', host: '10.0.0.1', port: 514 });
    expect(parseSyslogAddress('tcp+tls://logs.example')).toMatchObject({ proto: 'tcp+tls', host: 'logs.example', port: 514 });
    expect(parseSyslogAddress('udp://[::1]')).toMatchObject({ proto: 'udp', host: '::1', port: 514 });
    expect(parseSyslogAddress('udp://[::1]:1514')).toMatchObject({ host: '::1', port: 1514 });
    expect(parseSyslogAddress('tcp://127.0.0.1:6514/ignored/path')).toMatchObject({ host: '127.0.0.1', port: 6514 });
  });
  it('empty means the local syslog socket', () => {
    expect(parseSyslogAddress('')).toMatchObject({ proto: 'local' });
  });
  it('unix and unixgram take an existing path', () => {
    expect(parseSyslogAddress(`unix://${sockPath}`)).toMatchObject({ proto: 'unix', path: sockPath });
    expect(parseSyslogAddress(`unixgram://${sockPath}`)).toMatchObject({ proto: 'unixgram', path: sockPath });
    expect(err(() => parseSyslogAddress('unix:///no/such/sock'))).toBe(
      'invalid log opt syslog-address="unix:///no/such/sock": stat /no/such/sock: no such file or directory (the socket must exist when the container starts)',
    );
  });
  it('refuses other forms with Docker\'s messages, naming the option', () => {
    expect(err(() => parseSyslogAddress('127.0.0.1:514'))).toMatch(/^invalid log opt syslog-address="127.0.0.1:514": syslog-address should be in form proto:\/\/address, got 127.0.0.1:514 \(udp:\/\/host\[:port\]/);
    expect(err(() => parseSyslogAddress('http://x'))).toMatch(/should be in form proto:\/\/address, got http:\/\/x/);
    expect(err(() => parseSyslogAddress('udp://host:abc'))).toMatch(/parse "udp:\/\/host:abc": invalid port ":abc" after host/);
    expect(err(() => parseSyslogAddress('udp://::1'))).toMatch(/address ::1: too many colons in address/);
    expect(err(() => parseSyslogAddress('udp://[::1'))).toMatch(/missing '\]' in host/);
  });
});

describe('syslog-facility and syslog-format', () => {
  it('takes names and numbers 0-23, default daemon', () => {
    expect(parseSyslogFacility('')).toBe(3 << 3);
    expect(parseSyslogFacility('local7')).toBe(23 << 3);
    expect(parseSyslogFacility('kern')).toBe(0);
    expect(parseSyslogFacility('authpriv')).toBe(10 << 3);
    expect(parseSyslogFacility('0')).toBe(0);
    expect(parseSyslogFacility('23')).toBe(23 << 3);
    expect(parseSyslogFacility('+5')).toBe(5 << 3);
  });
  it('refuses the rest', () => {
    for (const bad of ['24', '-1', 'LOCAL0', 'local8', ' 1', '1.0']) {
      expect(err(() => parseSyslogFacility(bad))).toMatch(new RegExp(`^invalid log opt syslog-facility=".*": invalid syslog facility \\(one of kern, user`));
    }
  });
  it('formats', () => {
    for (const f of ['', 'rfc3164', 'rfc5424', 'rfc5424micro']) expect(parseSyslogFormat(f)).toBe(f);
    expect(err(() => parseSyslogFormat('rfc5425'))).toBe(
      'invalid log opt syslog-format="rfc5425": Invalid syslog format (empty for the Unix format, rfc3164, rfc5424 or rfc5424micro)',
    );
  });
  it('octet counting only for rfc5424* over tcp+tls', () => {
    const o = (address: string, format: string) => parseSyslogOptions({ 'syslog-address': address, 'syslog-format': format, 'syslog-tls-skip-verify': '' }).octetCounting;
    expect(o('tcp+tls://h', 'rfc5424')).toBe(true);
    expect(o('tcp+tls://h', 'rfc5424micro')).toBe(true);
    expect(o('tcp+tls://h', 'rfc3164')).toBe(false);
    expect(o('tcp+tls://h', '')).toBe(false);
    expect(o('tcp://h', 'rfc5424')).toBe(false);
    expect(o('udp://h', 'rfc5424micro')).toBe(false);
  });
});

describe('TLS options (go-connections tlsconfig.Client)', () => {
  it('adds the CA, verification on', () => {
    const t = parseSyslogTls({ 'syslog-tls-ca-cert': path.join(dir, 'ca.pem') });
    expect(t.rejectUnauthorized).toBe(true);
    expect(t.ca).toHaveLength(1);
  });
  it('skip-verify is on by the presence of the key, even "false", and the CA is then not read', () => {
    expect(parseSyslogTls({ 'syslog-tls-skip-verify': 'false', 'syslog-tls-ca-cert': '/no/such' }).rejectUnauthorized).toBe(false);
  });
  it('loads a client key pair', () => {
    const t = parseSyslogTls({ 'syslog-tls-cert': path.join(dir, 'ca.pem'), 'syslog-tls-key': path.join(dir, 'ca-key.pem') });
    expect(t.cert).toBeInstanceOf(Buffer);
    expect(t.key).toBeInstanceOf(Buffer);
  });
  it('fails like Docker', () => {
    expect(err(() => parseSyslogTls({ 'syslog-tls-ca-cert': '/no/such.pem' }))).toMatch(
      /^invalid log opt syslog-tls-ca-cert="\/no\/such.pem": could not read CA certificate "\/no\/such.pem": open \/no\/such.pem: no such file or directory/,
    );
    expect(err(() => parseSyslogTls({ 'syslog-tls-ca-cert': path.join(dir, 'garbage.pem') }))).toMatch(/failed to append certificates from PEM file: ".*garbage.pem"/);
    expect(err(() => parseSyslogTls({ 'syslog-tls-cert': path.join(dir, 'ca.pem') }))).toMatch(/^invalid log opt syslog-tls-key="": Could not load X509 key pair: open : no such file or directory/);
    expect(err(() => parseSyslogTls({ 'syslog-tls-cert': path.join(dir, 'ca.pem'), 'syslog-tls-key': path.join(dir, 'other-key.pem') }))).toMatch(
      /syslog-tls-key=.*Could not load X509 key pair: tls: private key does not match public key/,
    );
    expect(err(() => parseSyslogTls({ 'syslog-tls-cert': path.join(dir, 'ca.pem'), 'syslog-tls-key': path.join(dir, 'enc-key.pem') }))).toMatch(
      /Could not load X509 key pair: private key is encrypted/,
    );
  });
  it('TLS files are only read for tcp+tls, as Docker', () => {
    expect(parseSyslogOptions({ 'syslog-address': 'tcp://h', 'syslog-tls-ca-cert': '/no/such' }).tls).toBeNull();
  });
});

describe('the factory as logfan selects it', () => {
  const info = {
    Config: {},
    ContainerID: 'a'.repeat(64),
    ContainerName: '/c',
    ContainerEntrypoint: 'sh',
    ContainerArgs: [],
    ContainerImageID: 'sha256:' + 'b'.repeat(64),
    ContainerImageName: 'img',
    ContainerCreated: '2024-01-01T00:00:00Z',
    ContainerEnv: [],
    ContainerLabels: {},
    LogPath: '',
    DaemonName: 'docker',
  };
  it('owns Docker\'s syslog option names and refuses them unless selected', () => {
    expect(syslogSinkFactory.optionNames).toEqual([
      'syslog-address', 'syslog-facility', 'syslog-format', 'syslog-tls-ca-cert', 'syslog-tls-cert', 'syslog-tls-key', 'syslog-tls-skip-verify',
    ]);
    expect(() => parseLogOptions({ 'syslog-address': 'udp://h' }, [syslogSinkFactory])).toThrow(/belongs to the syslog sink/);
    expect(parseLogOptions({ sinks: 'json-file,syslog', 'syslog-address': 'udp://h', labels: 'a', 'env-regex': '(' }, [syslogSinkFactory]).sinks).toEqual(['syslog']);
  });
  it('validate refuses a bad value and a bad tag; labels/env are accepted unused', () => {
    const ctx = (options: Record<string, string>) => ({ info, options, logger: console as never });
    expect(() => syslogSinkFactory.validate(ctx({ 'syslog-facility': 'nope' }))).toThrow(/syslog-facility/);
    expect(() => syslogSinkFactory.validate(ctx({ tag: '{{.Nope}}' }))).toThrow(/Nope/);
    expect(() => syslogSinkFactory.validate(ctx({ 'syslog-address': 'udp://h', 'labels-regex': '(' }))).not.toThrow();
  });
});
