import crypto from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BUILTIN_REDACTIONS, type BuiltinRedaction, DETECTOR_BITS, luhnValid, RedactPrecheck, redactFactory } from '../../src/filters/redact.js';
import { chainOf, entry, feed, make, run } from './helpers.js';
import { BITS_REF, classTableRef, scanBytesRef } from './reference.js';

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

describe('redact prechecks (same decisions as before, and as running every detector)', () => {
  const SEED = 20261129;
  const SUBSETS: BuiltinRedaction[][] = [[...BUILTIN_REDACTIONS], ...BUILTIN_REDACTIONS.map((b) => [b]), ['credit-card', 'email'], ['bearer', 'private-key'], ['aws-access-key', 'credit-card']];
  const reference = (bytes: Buffer, builtins: readonly BuiltinRedaction[]) => {
    let enabled = 0;
    for (const b of builtins) enabled |= BITS_REF[b];
    return scanBytesRef(bytes, 0, bytes.length, classTableRef(enabled)) & enabled;
  };
  const prechecks = SUBSETS.map((s) => new RedactPrecheck(s));
  /**
   * The same bits, except one harmless difference: the byte scan wanted two more bytes after
   * `-----B`/`-----E` before it said private-key; the text scan (which fields always had) does not.
   * Either way the PEM detector needs `-----BEGIN ` or `-----END ` to do anything.
   */
  const expectSame = (got: number, ref: number, text: string, what: string) => {
    const KEY = DETECTOR_BITS.privateKey;
    expect(got & ~KEY, what).toBe(ref & ~KEY);
    if ((got & KEY) !== (ref & KEY)) {
      expect(ref & KEY, what).toBe(0);
      expect(text, what).not.toMatch(/-----(?:BEGIN|END)/);
    }
  };

  // Card-like runs around the every-13th-character sampling, Luhn-valid and not, separators in
  // every place, markers cut short, in other cases, at the very end, next to UTF-8.
  const TRICKY = [
    '',
    '4111111111111111',
    '4111111111111112',
    'x4111111111111111x',
    '4111 1111 1111 1111',
    '4111-1111-1111-1111',
    '4111  1111 1111 1111',
    '4111 -1111-1111-1111',
    '4111- 1111 1111 1111',
    '1 2 3 4 5 6 7 8 9 0 1 2 3',
    '1 2 3 4 5 6 7 8 9 0 1 2',
    '411111111111 1',
    '41111111111 11',
    '123456789012',
    '1234567890123',
    '12345678901234567890',
    '4111111111111111111',
    '49927398716 ',
    ' - - - - - - - - - - - - - - ',
    '-------------4111111111111111',
    '{"level":30,"time":1710252137342,"pid":1}',
    '{"time":1710252137343}',
    '2024-03-12T14:02:17.342Z 2024-03-12 14:02:17 10.0.3.7 +0000',
    'ts=2024-03-12 14:02:17 id=1234567890123 phone=+1 415-555-0100',
    'é4111111111111111é',
    '☕ 4111 1111 1111 1111 ☕',
    '٤١١١١١١١١١١١١١١١ ４１１１１１１１１１１１１１１１',
    'Bearer',
    'xx bearer',
    'bEaReR x',
    'beare',
    'authorization: BEARER abc',
    'AKIA',
    'ASIA',
    'AKI',
    'aKIA akia',
    'secret',
    'SECRET',
    'SeCrEt',
    'secre',
    '-----BEGIN',
    '-----END',
    '----BEGIN ----END',
    '-----B',
    '-----',
    '-----E',
    'a@b',
    '@',
    'user bob@ logged out',
    'a-b c-d',
    '0123456',
    '01234567',
  ];

  it('RedactPrecheck on the decoded text = the byte scan it replaced (tricky lines)', () => {
    for (const line of TRICKY) {
      for (let pad = 0; pad <= 14; pad++) {
        for (const [before, after] of [['', ''], ['x'.repeat(pad), ''], ['', ' '.repeat(pad)], ['1'.repeat(pad % 3) + ' ', 'y'.repeat(pad)]]) {
          const text = before + line + after;
          const bytes = Buffer.from(text);
          SUBSETS.forEach((s, k) => expectSame(prechecks[k].scan(text), reference(bytes, s), text, `${JSON.stringify(text)} ${s.join(',')}`));
        }
      }
    }
  });

  it('RedactPrecheck finds a shortest card run at every offset, after every kind of stretch', () => {
    // 13 digits spanning exactly 13 characters, or 13 digits with separators; before it filler,
    // short digit stretches or separators that the every-13th-character look may land on.
    const runs = ['4222222222222', '4222222222223', '4111 1111 1111 1', '4-1-1-1-1-1-1-1-1-1-1-1-1'];
    const befores = ['', 'x', '1 2y', '12-', '1 2 3 x', '- - x', '123456789012x'];
    for (const run of runs) {
      for (const before of befores) {
        for (let k = 0; k <= 30; k++) {
          for (const after of ['', 'x', ' 1']) {
            const text = 'x'.repeat(k) + before + run + after;
            SUBSETS.forEach((s, i) => expectSame(prechecks[i].scan(text), reference(Buffer.from(text), s), text, `${JSON.stringify(text)} ${s.join(',')}`));
          }
        }
      }
    }
  });

  // Lines from pieces: digits (runs of all lengths), separators, marker fragments in both cases,
  // UTF-8 and invalid bytes.
  const PIECES = ['0', '1', '4', '9', '4111', '1111', '5555', '0000', '12345678', '4222222222222', ' ', ' ', '-', '-----', '@', 'b', 'B', 'e', 'E', 'a', 'A', 'r', 'R', 'K', 'S', 'I', 's', 'c', 't', 'T', 'earer', 'EARER', 'KIA', 'SIA', 'ecret', 'BEGIN', 'END', 'x', '.', ':', '\n', '\t', 'é', '☕', '😀'];
  const BAD = [[0xff], [0xc3], [0xe2, 0x98], [0x80]];
  const lineBytes = fc
    .array(fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...PIECES).map((p) => Buffer.from(p)) }, { weight: 1, arbitrary: fc.constantFrom(...BAD).map((b) => Buffer.from(b)) }), { maxLength: 40 })
    .map((parts) => Buffer.concat(parts));

  it('RedactPrecheck on the decoded text = the byte scan it replaced (property)', () => {
    fc.assert(
      fc.property(lineBytes, (bytes) => {
        const text = bytes.toString('utf8');
        SUBSETS.forEach((s, k) => expectSame(prechecks[k].scan(text), reference(bytes, s), text, s.join(',')));
      }),
      { numRuns: 5000, seed: SEED },
    );
  });

  it('lines and fields come out exactly as with every detector run on everything (property)', () => {
    const SECRETS = ['AKIAIOSFODNN7EXAMPLE', 'ASIAY34FZKBOKMUTVV7A', `Bearer ${JWT}`, 'authorization: bearer abc.def==', 'jane.doe@example.com', 'aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', '"awsSecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"', '-----BEGIN RSA PRIVATE KEY-----', 'MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu', '-----END RSA PRIVATE KEY-----', '4111 1111 1111 1111', '5555-5555-5555-4444', '378282246310005', '1710252137342'];
    const text = fc.oneof({ weight: 3, arbitrary: lineBytes.map((b) => b.toString('utf8')) }, { weight: 1, arbitrary: fc.array(fc.constantFrom(...SECRETS, ' ', 'x=', '"'), { maxLength: 5 }).map((a) => a.join('')) });
    const fieldValue = fc.oneof(text, fc.constantFrom(4111111111111111, 4111111111111112, 1710252137342, 378282246310005, 2 ** 53 + 2, 1e18, 42, true));
    const item = fc.record({ line: text, fields: fc.option(fc.dictionary(fc.constantFrom('msg', 'user', 'card', 'auth', 'n', 'ts'), fieldValue), { nil: null }), stderr: fc.boolean() });
    fc.assert(
      fc.property(fc.array(item, { minLength: 1, maxLength: 6 }), fc.constantFrom(...SUBSETS), fc.boolean(), (items, builtins, custom) => {
        const raw = { type: 'redact', builtin: builtins, ...(custom ? { patterns: ['password=\\S+'] } : {}) };
        const fast = make(redactFactory, raw);
        const slow = make(redactFactory, raw, undefined, { precheck: false });
        for (const { line, fields, stderr } of items) {
          const a = entry(line, stderr ? 'stderr' : 'stdout');
          const b = entry(line, stderr ? 'stderr' : 'stdout');
          a.fields = fields === null ? null : { ...fields };
          b.fields = fields === null ? null : { ...fields };
          fast.process(a);
          slow.process(b);
          expect(a.text()).toBe(b.text());
          expect(a.fields).toEqual(b.fields);
        }
        expect(fast.stats()).toEqual(slow.stats());
      }),
      { numRuns: 3000, seed: SEED },
    );
  });

  it('number fields: a Luhn-valid 13–19 digit integer is masked, checked as its decimal text', () => {
    const f = only('credit-card');
    const masked = (v: number) => {
      const e = entry('x');
      e.fields = { v };
      f.process(e);
      return e.fields.v === '[REDACTED]';
    };
    const expected = (v: number) => Number.isInteger(v) && v >= 1e12 && v < 1e19 && luhnValid(String(v));
    for (const v of [4111111111111111, 4111111111111112, 1e12, 1e12 - 1, 999999999999, 1710252137342, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, 1e19 - 2048, 1e19, 4111111111111111.5, -4111111111111111, NaN, Infinity]) {
      expect(masked(v), String(v)).toBe(expected(v));
    }
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 1e12, max: Number.MAX_SAFE_INTEGER }), fc.double({ min: 1e12, max: 1.2e19, noNaN: true })), (v) => {
        expect(masked(v)).toBe(expected(v));
      }),
      { numRuns: 3000, seed: SEED },
    );
  });

  it('a secret in one field among many is found (the fields share one precheck)', () => {
    const f = all();
    const e = entry('{"msg":"ok"}');
    e.fields = { a: 'plain', b: 'text with 12 digits 123456789012', c: 'x', d: 'mail me: a.b@example.org', e: 1710252137342, f: 'k' };
    f.process(e);
    expect(e.fields).toEqual({ a: 'plain', b: 'text with 12 digits 123456789012', c: 'x', d: 'mail me: [REDACTED]', e: 1710252137342, f: 'k' });
    // digits in two fields do not join into one card number
    const g = all();
    const e2 = entry('x');
    e2.fields = { a: '4111 1111', b: '1111 1111' };
    g.process(e2);
    expect(e2.fields).toEqual({ a: '4111 1111', b: '1111 1111' });
    expect(g.stats()).toEqual({ redacted: 0 });
  });
});
