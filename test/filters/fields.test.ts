import { describe, expect, it } from 'vitest';
import { labelsFactory, removeFactory, renameFactory, setFactory } from '../../src/filters/fields.js';
import { ctx, entry, INFO, make } from './helpers.js';

describe('set', () => {
  it('creates fields when there are none, each entry its own object', () => {
    const f = make(setFactory, { type: 'set', fields: { env: 'prod', shard: 3, canary: false } });
    const a = f.process(entry('a'))!;
    const b = f.process(entry('b'))!;
    expect(a.fields).toEqual({ env: 'prod', shard: 3, canary: false });
    expect(a.fields).not.toBe(b.fields);
    a.fields!.env = 'changed';
    expect(f.process(entry('c'))!.fields).toEqual({ env: 'prod', shard: 3, canary: false });
  });

  it('overwrites and adds to existing fields in place', () => {
    const f = make(setFactory, { type: 'set', fields: { env: 'prod' } });
    const e = entry('x');
    const fields = { env: 'dev', level: 'info' };
    e.fields = fields;
    f.process(e);
    expect(e.fields).toBe(fields);
    expect(fields).toEqual({ env: 'prod', level: 'info' });
  });
});

describe('remove / rename', () => {
  it('remove deletes present keys; no fields → nothing allocated', () => {
    const f = make(removeFactory, { type: 'remove', fields: ['pid', 'hostname', 'absent'] });
    const e = entry('x');
    e.fields = { pid: 1, hostname: 'h', msg: 'm' };
    f.process(e);
    expect(e.fields).toEqual({ msg: 'm' });
    const bare = entry('y');
    f.process(bare);
    expect(bare.fields).toBeNull();
    expect(f.stats()).toEqual({ removed: 2 });
  });

  it('rename moves values; absent keys are skipped; inherited names are not fields', () => {
    const f = make(renameFactory, { type: 'rename', fields: { msg: 'message', lvl: 'level', constructor: 'c' } });
    const e = entry('x');
    e.fields = { msg: 'hello', time: 1 };
    f.process(e);
    expect(e.fields).toEqual({ time: 1, message: 'hello' });
    expect(f.stats()).toEqual({ renamed: 1 });
  });
});

describe('labels', () => {
  it('copies the container labels it names, with a prefix; missing ones skipped', () => {
    const f = make(labelsFactory, { type: 'labels', labels: ['tier', 'team', 'missing', 'com.example.version'], prefix: 'label.' }, ctx());
    expect(f.process(entry('x'))!.fields).toEqual({ 'label.tier': 'prod', 'label.team': 'payments', 'label.com.example.version': '1.4.2' });
  });

  it('a container without labels: entries untouched', () => {
    const f = make(labelsFactory, { type: 'labels', labels: ['tier'] }, ctx([], { ...INFO, ContainerLabels: null }));
    expect(f.process(entry('x'))!.fields).toBeNull();
  });
});

describe('field filter options', () => {
  it.each([
    [setFactory, { type: 'set', fields: {} }, /^test: fields: at least one field \(expected \{type: "set"/],
    [setFactory, { type: 'set', fields: { a: null } }, /^test: fields\.a: Invalid input/],
    [removeFactory, { type: 'remove', fields: [] }, /^test: fields: Too small/],
    [renameFactory, { type: 'rename', fields: { a: 1 } }, /^test: fields\.a: Invalid input: expected string/],
    [labelsFactory, { type: 'labels', labels: 'tier' }, /^test: labels: Invalid input: expected array.*\(expected \{type: "labels", labels: \[label name/],
  ] as const)('%#: %j is refused', (factory, raw, message) => {
    expect(() => (factory as { parseOptions(r: unknown, w: string): unknown }).parseOptions(raw, 'test')).toThrow(message);
  });
});
