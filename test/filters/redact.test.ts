import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { luhnValid, redactFactory } from '../../src/filters/redact.js';
import { chainOf, entry, feed, make, run } from './helpers.js';

const all = () => make(redactFactory, { type: 'redact', builtin: 'all' });
const only = (b: string) => make(redactFactory, { type: 'redact', builtin: [b] });

const JWT = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';

describe('redact builtins', () => {
  it('bearer: masks the token in an access-log line, keeps the word', () => {
    const line = `10.0.3.7 - - [12/Mar/2024:14:02:17 +0000] "GET /api/v1/orders HTTP/1.1" 200 512 "-" "curl/8.4.0" authorization="Bearer ${JWT}"`;
    expect(run(only('bearer'), [line])).toEqual([line.replace(JWT, '[REDACTED]')]);
    expect(run(only('bearer'), ['Authorization: bearer 0123456789abcdef=='])).toEqual(['Authorization: bearer [REDACTED]']);
    expect(run(only('bearer'), ['{"token_type":"Bearer","expires_in":3600}'])).toEqual(['{"token_type":"Bearer","expires_in":3600}']);
  });

  it('aws-access-key: AKIA/ASIA ids and secret values', () => {
    const f = only('aws-access-key');
    expect(run(f, ['using credentials AKIAIOSFODNN7EXAMPLE for s3', 'session ASIAY34FZKBOKMUTVV7A expires'])).toEqual([
      'using credentials [REDACTED] for s3',
      'session [REDACTED] expires',
    ]);
    expect(run(f, ['AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', '{"aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}'])).toEqual([
      'AWS_SECRET_ACCESS_KEY=[REDACTED]',
      '{"aws_secret_access_key": "[REDACTED]"}',
    ]);
    // too short / not an id
    expect(run(f, ['AKIA1234 and XAKIAIOSFODNN7EXAMPLE'])).toEqual(['AKIA1234 and XAKIAIOSFODNN7EXAMPLE']);
  });

  it('private-key: a real PEM block joined by multiline, and a lone BEGIN followed by body lines', () => {
    const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 1024, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const pem = privateKey.trim();
    expect(pem.startsWith('-----BEGIN RSA PRIVATE KEY-----')).toBe(true);
    // joined into one entry by multiline
    const c = chainOf([{ type: 'multiline', continue: '^[A-Za-z0-9+/=]+$|^-----END' }, { type: 'redact', builtin: ['private-key'] }]);
    const texts = feed(c, `loaded key:\n${pem}\nserver started on :8443`);
    expect(texts).toContain('-----BEGIN RSA PRIVATE KEY-----[REDACTED]-----END RSA PRIVATE KEY-----');
    expect(texts.join('\n')).not.toMatch(/MII/);
    // line by line (no multiline): BEGIN, base64 body lines and END are all masked
    const f = only('private-key');
    const lines = pem.split('\n');
    const out = run(f, ['before', ...lines, 'after']);
    expect(out[0]).toBe('before');
    expect(out[1]).toBe('-----BEGIN RSA PRIVATE KEY-----');
    expect(out.slice(2, -2).every((l) => l === '[REDACTED]')).toBe(true);
    expect(out.at(-2)).toBe('-----END RSA PRIVATE KEY-----');
    expect(out.at(-1)).toBe('after');
    // a PKCS#8 EC key inside a JSON string (escaped newlines)
    const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const json = JSON.stringify({ msg: 'config', key: ec });
    const [redacted] = run(f, [json]);
    expect(redacted).toBe('{"msg":"config","key":"-----BEGIN PRIVATE KEY-----[REDACTED]-----END PRIVATE KEY-----\\n"}');
  });

  it('private-key: a lone BEGIN stops masking at the first line that is not PEM; stderr state is separate', () => {
    const f = only('private-key');
    expect(run(f, ['key: -----BEGIN OPENSSH PRIVATE KEY----- b3BlbnNzaC1rZXktdjEAAAAABG5vbmU=', 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ==', 'GET /x 200', 'YWJj'])).toEqual([
      'key: -----BEGIN OPENSSH PRIVATE KEY-----[REDACTED]',
      '[REDACTED]',
      'GET /x 200',
      'YWJj',
    ]);
    expect(run(f, ['-----BEGIN EC PRIVATE KEY-----'], 'stderr')).toEqual(['-----BEGIN EC PRIVATE KEY-----']);
    expect(run(f, ['MHcCAQEEIBkg4LVWM9nuwNSk3yBY'], 'stdout')).toEqual(['MHcCAQEEIBkg4LVWM9nuwNSk3yBY']);
    expect(run(f, ['MHcCAQEEIBkg4LVWM9nuwNSk3yBY'], 'stderr')).toEqual(['[REDACTED]']);
    // a public key or certificate is not a secret
    expect(run(only('private-key'), ['-----BEGIN CERTIFICATE-----', 'MIIBszCCAVmgAwIBAgIU'])).toEqual(['-----BEGIN CERTIFICATE-----', 'MIIBszCCAVmgAwIBAgIU']);
  });

  it('credit-card: Luhn-valid numbers masked, Luhn-invalid left alone', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
    const f = only('credit-card');
    expect(
      run(f, [
        'charge card=4111111111111111 amount=12.50',
        'charge card=4111 1111 1111 1111 ok',
        'charge card=5555-5555-5555-4444 ok',
        'amex 3782 822463 10005 ok',
        'card 4111111111111112 (typo)',
        'order 12 4111 1111 1111 1111 placed',
        'card 4012 8888 8888 1881 2024',
        'ts=2024-03-12 14:02:17 id=1234567890123 phone=+1 415-555-0100',
        'trace 12345678901234567890123',
      ]),
    ).toEqual([
      'charge card=[REDACTED] amount=12.50',
      'charge card=[REDACTED] ok',
      'charge card=[REDACTED] ok',
      'amex [REDACTED] ok',
      'card 4111111111111112 (typo)',
      'order 12 [REDACTED] placed',
      'card [REDACTED] 2024',
      'ts=2024-03-12 14:02:17 id=1234567890123 phone=+1 415-555-0100',
      'trace 12345678901234567890123',
    ]);
  });

  it('email', () => {
    expect(run(only('email'), ['password reset sent to jane.doe+billing@example.co.uk (user 42)', 'no at sign here', 'handle @jane'])).toEqual([
      'password reset sent to [REDACTED] (user 42)',
      'no at sign here',
      'handle @jane',
    ]);
  });

  it('custom patterns and mask ($ in the mask is literal)', () => {
    const f = make(redactFactory, { type: 'redact', patterns: ['password=\\S+', 'ssn:\\d{3}-\\d{2}-\\d{4}'], mask: '$$$' });
    expect(run(f, ['login password=hunter2 ok ssn:123-45-6789'])).toEqual(['login $$$ ok $$$']);
  });

  it('redacts string field values too and counts changed lines', () => {
    const f = all();
    const e = entry('{"msg":"login"}');
    e.fields = { user: 'jane@example.com', card: 4111111111111111, id: 4111111111111112, port: 8080, ok: true, auth: `Bearer ${JWT}` };
    f.process(e);
    expect(e.fields).toEqual({ user: '[REDACTED]', card: '[REDACTED]', id: 4111111111111112, port: 8080, ok: true, auth: 'Bearer [REDACTED]' });
    expect(e.text()).toBe('{"msg":"login"}');
    f.process(entry('nothing here'));
    expect(f.stats()).toEqual({ redacted: 1 });
  });

  it('a line with nothing to redact is passed on as the same bytes (no copy)', () => {
    const f = all();
    for (const line of ['GET /api/v1/orders 200 12ms', 'level=info msg="cache warm" keys=1024 took=1.2s', '2024-03-12T14:02:17.342Z INFO worker started pid=4242', 'user bob@ logged out']) {
      const e = entry(line);
      const buf = e.buf;
      expect(f.process(e)).toBe(e);
      expect(e.buf).toBe(buf);
    }
    expect(f.stats().redacted).toBe(0);
  });

  it('all builtins on one line', () => {
    const line = `user=jane@corp.io card=4111-1111-1111-1111 key=AKIAIOSFODNN7EXAMPLE Authorization: Bearer ${JWT}`;
    expect(run(all(), [line])).toEqual(['user=[REDACTED] card=[REDACTED] key=[REDACTED] Authorization: Bearer [REDACTED]']);
  });

  it('UTF-8 around a secret survives', () => {
    expect(run(all(), ['café ☕ paid with 4111 1111 1111 1111 — merci'])).toEqual(['café ☕ paid with [REDACTED] — merci']);
  });
});

describe('redact options', () => {
  it.each([
    [{ type: 'redact' }, /^test: give builtin, patterns or both \(expected \{type: "redact"/],
    [{ type: 'redact', builtin: ['ssn'] }, /^test: builtin: Invalid input/],
    [{ type: 'redact', builtin: 'all', mask: 3 }, /^test: mask: Invalid input: expected string/],
    [{ type: 'redact', patterns: ['(a)\\1'] }, /^test: patterns\[0\]: pattern "\(a\)\\\\1" uses backreferences/],
    [{ type: 'redact', builtin: 'all', extra: 1 }, /^test: Unrecognized key: "extra"/],
  ])('%j is refused', (raw, message) => {
    expect(() => redactFactory.parseOptions(raw, 'test')).toThrow(message);
  });
});
