import { describe, expect, it } from 'vitest';
import type { ContainerInfo } from '../../src/docker/container-info.js';
import { compileGoRegexp, extraAttributes } from '../../src/docker/extra-attributes.js';

const info = (labels: Record<string, string> | null, env: string[] | null): ContainerInfo => ({
  Config: {},
  ContainerID: 'a'.repeat(64),
  ContainerName: '/web',
  ContainerEntrypoint: 'sh',
  ContainerArgs: [],
  ContainerImageID: 'sha256:' + 'b'.repeat(64),
  ContainerImageName: 'busybox',
  ContainerCreated: '',
  ContainerEnv: env,
  ContainerLabels: labels,
  LogPath: '',
  DaemonName: 'docker',
});

describe('extra attributes (labels, labels-regex, env, env-regex)', () => {
  it('takes listed labels that exist, without trimming names', () => {
    expect(extraAttributes(info({ a: '1', b: '2', c: '3', ' d': '4' }, ['X=1']), { labels: 'a, c, d,missing' })).toEqual({ a: '1', ' d': '4' });
  });
  it('matches labels-regex unanchored', () => {
    expect(extraAttributes(info({ 'com.x.service': 's', 'com.x.project': 'p', other: 'o' }, ['X=1']), { 'labels-regex': 'x\\.s' })).toEqual({ 'com.x.service': 's' });
  });
  it('lets env beat a label of the same name', () => {
    expect(extraAttributes(info({ FOO: 'label' }, ['FOO=env']), { labels: 'FOO', env: 'FOO' })).toEqual({ FOO: 'env' });
  });
  it('cuts env entries at the first =, skipping entries without one', () => {
    expect(extraAttributes(info({}, ['A=b=c', 'NOVALUE', 'E=']), { env: 'A,NOVALUE,E' })).toEqual({ A: 'b=c', E: '' });
  });
  it('skips env options when the container has no env', () => {
    expect(extraAttributes(info({ a: '1' }, null), { labels: 'a', env: 'A', 'env-regex': '.' })).toEqual({ a: '1' });
  });
  it('matches env-regex against names', () => {
    expect(extraAttributes(info(null, ['TRACE_ID=1', 'XTRACE=2', 'PATH=/bin']), { 'env-regex': '^TRACE' })).toEqual({ TRACE_ID: '1' });
  });
  it('translates RE2 flag groups and names the option in errors', () => {
    expect(compileGoRegexp('(?i)^abc', 'labels-regex').test('ABC')).toBe(true);
    expect(() => compileGoRegexp('(unclosed', 'labels-regex')).toThrow(/labels-regex: invalid regular expression/);
  });
});
