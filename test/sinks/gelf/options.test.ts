import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LogOptionError, parseLogOptions } from '../../../src/config/log-opts.js';
import { gelfSinkFactory } from '../../../src/sinks/gelf/index.js';
import { parseGelfOptions } from '../../../src/sinks/gelf/options.js';

describe('gelf options (Docker\'s ValidateLogOpt texts)', () => {
  const bad: Array<[Record<string, string>, string]> = [
    [{}, 'gelf-address is a required parameter (gelf-address: udp://host:port, tcp://host:port or tls://host:port)'],
    [{ 'gelf-address': '127.0.0.1:12201' }, 'gelf-address should be in form proto://address, got 127.0.0.1:12201'],
    [{ 'gelf-address': 'http://h:1' }, 'gelf-address should be in form proto://address, got http://h:1'],
    [{ 'gelf-address': 'unix:///x' }, 'gelf: endpoint needs to be TCP or UDP'],
    [{ 'gelf-address': 'udp://host' }, 'gelf: please provide gelf-address as proto://host:port'],
    [{ 'gelf-address': 'udp://host:99999' }, 'gelf: please provide gelf-address as proto://host:port'],
    [{ 'gelf-address': 'tcp://h:1', 'gelf-compression-type': 'gzip' }, 'compression is only supported on UDP'],
    [{ 'gelf-address': 'tcp://h:1', 'gelf-compression-level': '1' }, 'compression is only supported on UDP'],
    [{ 'gelf-address': 'udp://h:1', 'gelf-compression-type': 'lz4' }, 'unknown value "lz4" for log opt "gelf-compression-type" for gelf log driver (gelf-compression-type: gzip, zlib or none)'],
    [{ 'gelf-address': 'udp://h:1', 'gelf-compression-level': '10' }, 'unknown value "10" for log opt "gelf-compression-level" for gelf log driver'],
    [{ 'gelf-address': 'udp://h:1', 'gelf-compression-level': '-2' }, 'unknown value "-2"'],
    [{ 'gelf-address': 'udp://h:1', 'gelf-compression-level': 'x' }, 'unknown value "x"'],
    [{ 'gelf-address': 'udp://h:1', 'gelf-tcp-max-reconnect': '1' }, '"gelf-tcp-max-reconnect" is only valid for TCP'],
    [{ 'gelf-address': 'tcp://h:1', 'gelf-tcp-max-reconnect': '-1' }, '"gelf-tcp-max-reconnect" must be a positive integer'],
    [{ 'gelf-address': 'tcp://h:1', 'gelf-tcp-reconnect-delay': 'soon' }, '"gelf-tcp-reconnect-delay" must be a positive integer'],
    [{ 'gelf-address': 'tcp://h:1', 'gelf-tls-ca-cert': '/x' }, '"gelf-tls-ca-cert" is only valid for TLS'],
    [{ 'gelf-address': 'tls://h:1', 'gelf-tls-ca-cert': '/nonexistent/ca.pem' }, 'invalid log opt gelf-tls-ca-cert="/nonexistent/ca.pem": cannot read the file'],
    [{ 'gelf-address': 'tls://h:1', 'gelf-tls-cert': '/etc/hostname' }, 'gelf-tls-cert and gelf-tls-key must be given together'],
  ];
  for (const [raw, message] of bad) {
    it(`refuses ${JSON.stringify(raw)}`, () => {
      expect(() => parseGelfOptions(raw)).toThrow(LogOptionError);
      expect(() => parseGelfOptions(raw)).toThrow(message);
    });
  }

  it('reads Docker\'s defaults and forms', () => {
    expect(parseGelfOptions({ 'gelf-address': 'udp://graylog:12201' })).toMatchObject({
      protocol: 'udp', host: 'graylog', port: 12201, compression: 'gzip', compressionLevel: 1,
    });
    expect(parseGelfOptions({ 'gelf-address': 'udp://[::1]:12201/path', 'gelf-compression-type': 'none', 'gelf-compression-level': '-1' })).toMatchObject({
      host: '::1', port: 12201, compression: 'none', compressionLevel: -1,
    });
    expect(parseGelfOptions({ 'gelf-address': 'tcp://h:1', 'gelf-tcp-max-reconnect': '0', 'gelf-tcp-reconnect-delay': '2' })).toMatchObject({
      protocol: 'tcp', maxReconnect: 0, reconnectDelayMs: 2000, reconnectMaxDelayMs: 10_000,
    });
    expect(parseGelfOptions({ 'gelf-address': 'tls://h:1' }).tls).toEqual({ rejectUnauthorized: true });
    expect(parseGelfOptions({ 'gelf-address': 'tcp+tls://h:1', 'gelf-tls-skip-verify': 'true' }).tls).toEqual({ rejectUnauthorized: false });
  });

  it('refuses a file that is not PEM', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gelf-opt-'));
    fs.writeFileSync(path.join(dir, 'c.pem'), 'not a certificate');
    fs.writeFileSync(path.join(dir, 'k.pem'), 'not a key');
    expect(() => parseGelfOptions({ 'gelf-address': 'tls://h:1', 'gelf-tls-cert': path.join(dir, 'c.pem'), 'gelf-tls-key': path.join(dir, 'k.pem') })).toThrow(
      /gelf-tls-cert\/gelf-tls-key/,
    );
    fs.rmSync(dir, { recursive: true });
  });

  it('is refused unless selected in sinks=, accepted when it is', () => {
    expect(() => parseLogOptions({ 'gelf-address': 'udp://h:1' }, [gelfSinkFactory])).toThrow(/belongs to the gelf sink/);
    expect(parseLogOptions({ sinks: 'json-file,gelf', 'gelf-address': 'udp://h:1' }, [gelfSinkFactory]).sinks).toEqual(['gelf']);
  });
});
