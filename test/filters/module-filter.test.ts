import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checkModuleName, loadFilterModules, moduleFactory, unloadFilterModules } from '../../src/filters/module-filter.js';
import { parseFilterSpec } from '../../src/filters/registry.js';
import { chainOf, ctx, entry, fakeLogger, INFO, make } from './helpers.js';

const EXAMPLES = path.resolve(import.meta.dirname, '../../examples/filters');
let dir: string;
let outside: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logfan-modules-'));
  outside = fs.mkdtempSync(path.join(os.tmpdir(), 'logfan-outside-'));
  const write = (name: string, text: string) => fs.writeFileSync(path.join(dir, name), text);
  write('upper.mjs', `export default (options) => (r) => { r.line = (options?.prefix ?? '') + r.line.toUpperCase(); r.fields.seen = true; return r; };`);
  write('drop-debug.mjs', `export function createFilter() { return (r) => (r.line.startsWith('DEBUG') ? null : r); }`);
  write('thrower.mjs', `export default () => (r) => { if (r.line.includes('boom')) throw new Error('user bug'); return r; };`);
  write('async.mjs', `export default () => async (r) => r;`);
  write('rewrite.mjs', `export default (o, context) => (r) => ({ line: r.line, stream: 'stderr', time: new Date(Date.UTC(2024, 2, 12)), severity: 3, fields: { ctx: context.containerName, tier: context.labels.tier, nested: { a: 1 }, n: 2, bad: undefined } });`);
  write('in-place.mjs', `export default () => (r) => { r.severity = 7; };`);
  write('bad-create.mjs', `export default (o) => { if (!o?.ok) throw new Error('options.ok is required'); return (r) => r; };`);
  write('no-export.mjs', `export const x = 1;`);
  write('syntax.mjs', `export default (=>`);
  fs.writeFileSync(path.join(outside, 'evil.mjs'), `export default () => (r) => null;`);
  fs.symlinkSync(path.join(outside, 'evil.mjs'), path.join(dir, 'link.mjs'));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});

afterEach(() => unloadFilterModules());

describe('loading', () => {
  it('refuses names that leave the directory', async () => {
    for (const [name, problem] of [
      ['../x.mjs', 'contains ".."'],
      ['a/../../x.mjs', 'contains ".."'],
      ['/etc/x.mjs', 'is an absolute path'],
      ['x.ts', 'does not end in'],
      ['', 'is not a file name'],
    ]) {
      expect(() => checkModuleName(name, 'w'), name).toThrow(`w: module: ${JSON.stringify(name)} ${problem}`);
      await expect(loadFilterModules(dir, [name])).rejects.toThrow(problem);
    }
    await expect(loadFilterModules(dir, ['link.mjs'])).rejects.toThrow(/outside/);
    expect(() => moduleFactory.parseOptions({ type: 'module', module: '../evil.mjs' }, 'pipeline.yaml: rules[0].filters[0]')).toThrow(/^pipeline\.yaml: rules\[0\]\.filters\[0\]: module: "\.\.\/evil\.mjs" contains "\.\."/);
  });

  it('reports missing files, bad exports and syntax errors naming the file', async () => {
    await expect(loadFilterModules(dir, ['absent.mjs'])).rejects.toThrow(/absent\.mjs: cannot load filter module/);
    await expect(loadFilterModules(dir, ['no-export.mjs'])).rejects.toThrow(/no-export\.mjs: a filter module must export default/);
    await expect(loadFilterModules(dir, ['syntax.mjs'])).rejects.toThrow(/syntax\.mjs: cannot load filter module/);
    await expect(loadFilterModules(path.join(dir, 'nope'), ['upper.mjs'])).rejects.toThrow(/cannot use as the filter modules directory/);
  });

  it('a spec naming a module that was not loaded is refused', async () => {
    await loadFilterModules(dir, ['upper.mjs']);
    expect(() => parseFilterSpec({ type: 'module', module: 'drop-debug.mjs' }, 'log opt x')).toThrow(/^log opt x: module: "drop-debug\.mjs" is not loaded .*loaded: upper\.mjs/);
  });

  it('a failed load keeps the previous set', async () => {
    await loadFilterModules(dir, ['upper.mjs']);
    await expect(loadFilterModules(dir, ['drop-debug.mjs', 'absent.mjs'])).rejects.toThrow();
    expect(() => parseFilterSpec({ type: 'module', module: 'upper.mjs' }, 'w')).not.toThrow();
  });
});

describe('running', () => {
  it('changes lines and fields; null drops', async () => {
    await loadFilterModules(dir, ['upper.mjs', 'drop-debug.mjs']);
    const c = chainOf([
      { type: 'module', module: 'drop-debug.mjs' },
      { type: 'module', module: 'upper.mjs', options: { prefix: '> ' } },
    ]);
    for (const l of ['DEBUG noise', 'hello wörld']) c.chain.process(entry(l));
    expect(c.texts()).toEqual(['> HELLO WÖRLD']);
    expect(c.out[0].fields).toEqual({ seen: true });
    expect(c.chain.stats()).toMatchObject({ 'module#0.dropped': 1, 'module#1.errors': 0 });
  });

  it('a returned new record: stream, time, severity, fields (sanitized); context', async () => {
    await loadFilterModules(dir, ['rewrite.mjs']);
    const f = make(moduleFactory, { type: 'module', module: 'rewrite.mjs' });
    const e = f.process(entry('x', 'stdout', 5, 123))!;
    expect(e).toMatchObject({ source: 'stderr', timeSec: Date.UTC(2024, 2, 12) / 1000, timeNsec: 0, severity: 3 });
    expect(e.fields).toEqual({ ctx: 'api-7f9c', tier: 'prod', nested: '{"a":1}', n: 2 });
  });

  it('undefined keeps the record changed in place; the time keeps its nanoseconds when unchanged', async () => {
    await loadFilterModules(dir, ['in-place.mjs']);
    const f = make(moduleFactory, { type: 'module', module: 'in-place.mjs' });
    const e = f.process(entry('x', 'stdout', 5, 123_456_789))!;
    expect(e).toMatchObject({ severity: 7, timeSec: 5, timeNsec: 123_456_789, fields: null });
  });

  it('a throwing function: line passes unchanged, errors counted, logged at most once a second', async () => {
    await loadFilterModules(dir, ['thrower.mjs']);
    const logger = fakeLogger();
    const f = make(moduleFactory, { type: 'module', module: 'thrower.mjs' }, ctx([], INFO, logger));
    for (let i = 0; i < 1000; i++) expect(f.process(entry('boom'))?.text()).toBe('boom');
    expect(f.process(entry('fine'))?.text()).toBe('fine');
    expect(f.stats()).toEqual({ dropped: 0, errors: 1000 });
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn.mock.calls[0][0]).toMatchObject({ err: 'user bug', filter: 'module#0' });
  });

  it('an async function is an error (filters are synchronous)', async () => {
    await loadFilterModules(dir, ['async.mjs']);
    const f = make(moduleFactory, { type: 'module', module: 'async.mjs' });
    expect(f.process(entry('x'))?.text()).toBe('x');
    expect(f.stats().errors).toBe(1);
  });

  it('createFilter throwing fails create, naming the module', async () => {
    await loadFilterModules(dir, ['bad-create.mjs']);
    expect(() => make(moduleFactory, { type: 'module', module: 'bad-create.mjs' })).toThrow(/bad-create\.mjs failed to create its filter: options\.ok is required/);
    expect(() => make(moduleFactory, { type: 'module', module: 'bad-create.mjs', options: { ok: true } })).not.toThrow();
  });
});

describe('the example module examples/filters/add-hostname.mjs', () => {
  it('adds the host name and the container name', async () => {
    await loadFilterModules(EXAMPLES, ['add-hostname.mjs']);
    const c = chainOf([
      { type: 'parse', format: 'json' },
      { type: 'module', module: 'add-hostname.mjs', options: { containerField: 'container' } },
    ]);
    c.chain.process(entry('{"msg":"ok","level":"info"}'));
    c.chain.process(entry('plain'));
    expect(c.out.map((e) => e.fields)).toEqual([
      { msg: 'ok', level: 'info', host: os.hostname(), container: 'api-7f9c' },
      { host: os.hostname(), container: 'api-7f9c' },
    ]);
  });

  it('options: field and value; bad options fail at create', async () => {
    await loadFilterModules(EXAMPLES, ['add-hostname.mjs']);
    const f = make(moduleFactory, { type: 'module', module: 'add-hostname.mjs', options: { field: 'node', value: 'docker-7' } });
    expect(f.process(entry('x'))!.fields).toEqual({ node: 'docker-7' });
    expect(() => make(moduleFactory, { type: 'module', module: 'add-hostname.mjs', options: { field: '' } })).toThrow(/options\.field must be a non-empty string/);
  });
});
