import { describe, expect, it } from 'vitest';
import { atoi, fromHumanSize, parseBool, ramInBytes } from '../../src/config/go-parse.js';
import { DEFAULT_MAX_FILE, DEFAULT_MAX_SIZE, parseLogOptions } from '../../src/config/log-opts.js';

describe('go-units sizes', () => {
  it('parses decimal sizes as FromHumanSize', () => {
    expect(fromHumanSize('10k')).toBe(10_000);
    expect(fromHumanSize('10K')).toBe(10_000);
    expect(fromHumanSize('10kb')).toBe(10_000);
    expect(fromHumanSize('10KiB')).toBe(10_000);
    expect(fromHumanSize('1.5m')).toBe(1_500_000);
    expect(fromHumanSize('2g')).toBe(2_000_000_000);
    expect(fromHumanSize('100')).toBe(100);
    expect(fromHumanSize('100b')).toBe(100);
    expect(fromHumanSize('5 m')).toBe(5_000_000);
  });
  it('parses binary sizes as RAMInBytes', () => {
    expect(ramInBytes('4m')).toBe(4 * 1024 * 1024);
    expect(ramInBytes('1k')).toBe(1024);
  });
  it('fails as go-units fails', () => {
    expect(() => fromHumanSize('abc')).toThrow("invalid size: 'abc'");
    expect(() => fromHumanSize('10x')).toThrow("invalid suffix: 'x'");
    expect(() => fromHumanSize('10kbb')).toThrow('invalid suffix');
    expect(() => fromHumanSize('10mx')).toThrow("invalid suffix: 'mx'");
    expect(() => fromHumanSize('-5')).toThrow("invalid size: '-5'");
    expect(() => fromHumanSize('1.2.3')).toThrow('strconv.ParseFloat');
  });
  it('atoi and ParseBool as Go', () => {
    expect(atoi('3')).toBe(3);
    expect(atoi('+3')).toBe(3);
    expect(() => atoi('3.0')).toThrow('strconv.Atoi: parsing "3.0": invalid syntax');
    for (const t of ['1', 't', 'T', 'TRUE', 'true', 'True']) expect(parseBool(t)).toBe(true);
    for (const f of ['0', 'f', 'F', 'FALSE', 'false', 'False']) expect(parseBool(f)).toBe(false);
    expect(() => parseBool('yes')).toThrow('strconv.ParseBool: parsing "yes": invalid syntax');
  });
});

describe('log options', () => {
  it('rotates at 20m over 5 files when the user sets nothing', () => {
    expect(parseLogOptions({}).jsonFile).toEqual({ maxSize: DEFAULT_MAX_SIZE, maxFile: DEFAULT_MAX_FILE, compress: false, fields: false });
    expect(parseLogOptions(null).jsonFile.maxSize).toBe(20_000_000);
  });
  it("keeps Docker's max-file default of 1 when only max-size is set", () => {
    expect(parseLogOptions({ 'max-size': '10m' }).jsonFile).toEqual({ maxSize: 10_000_000, maxFile: 1, compress: false, fields: false });
  });
  it('accepts the options the daemon handles for every driver', () => {
    expect(() =>
      parseLogOptions({ mode: 'non-blocking', 'max-buffer-size': '4m', 'cache-disabled': 'true', 'cache-max-size': '1m', 'cache-max-file': '2', 'cache-compress': 'false' }),
    ).not.toThrow();
  });
  it('names the option and its accepted form in every error', () => {
    expect(() => parseLogOptions({ 'max-size': 'abc' })).toThrow(/max-size="abc": invalid size: 'abc' \(a positive size/);
    expect(() => parseLogOptions({ 'max-size': '0' })).toThrow(/max-size must be a positive number/);
    expect(() => parseLogOptions({ 'max-file': '0' })).toThrow(/max-file="0": max-file cannot be less than 1/);
    expect(() => parseLogOptions({ 'max-file': 'x' })).toThrow(/max-file="x": strconv.Atoi/);
    expect(() => parseLogOptions({ compress: 'maybe' })).toThrow(/compress="maybe": strconv.ParseBool/);
    expect(() => parseLogOptions({ 'max-size': '1m', 'max-file': '1', compress: 'true' })).toThrow(/compress cannot be true/);
    expect(() => parseLogOptions({ mode: 'fast' })).toThrow(/mode="fast"/);
    expect(() => parseLogOptions({ 'max-buffer-size': 'lots' })).toThrow(/max-buffer-size/);
    expect(() => parseLogOptions({ 'syslog-address': 'udp://x' })).toThrow(/unknown log opt 'syslog-address' for logfan log driver \(accepted: max-size/);
  });
  it('selects sinks and keeps each sink\'s options to it, sharing tag/labels/env', () => {
    const kinds = [
      { name: 'syslog', optionNames: ['syslog-address', 'tag', 'labels'] },
      { name: 'journald', optionNames: ['tag', 'labels', 'env'] },
    ];
    const o = parseLogOptions({ sinks: 'json-file,syslog', 'syslog-address': 'udp://x', tag: 't', env: 'A' }, kinds);
    expect(o.sinks).toEqual(['syslog']);
    expect(o.localStore).toBe(true);
    expect(() => parseLogOptions({ 'syslog-address': 'udp://x' }, kinds)).toThrow(/log opt syslog-address belongs to the syslog sink, which is not selected \(add it: --log-opt sinks=syslog\)/);
    expect(() => parseLogOptions({ sinks: 'syslog,nope' }, kinds)).toThrow(/unknown sink 'nope'/);
    expect(parseLogOptions({ sinks: 'syslog', 'local-store': 'false' }, kinds).localStore).toBe(false);
    expect(() => parseLogOptions({ 'local-store': 'false' }, kinds)).toThrow(/nothing would receive the logs/);
  });

  it('gives each network sink its queue: <sink>-queue-* over queue-* over the defaults', () => {
    const kinds = [
      { name: 'syslog', optionNames: ['syslog-address'] },
      { name: 'gelf', optionNames: ['gelf-address'] },
    ];
    const mem = { spool: false, spoolMaxBytes: 1024 ** 3 };
    expect(parseLogOptions({ sinks: 'syslog' }, kinds).queues).toEqual({ syslog: { policy: 'drop-newest', maxBytes: 16 * 1024 * 1024, ...mem } });
    const o = parseLogOptions({ sinks: 'syslog,gelf', 'queue-full': 'block', 'gelf-queue-full': 'drop-oldest', 'gelf-queue-size': '1m' }, kinds);
    expect(o.queues).toEqual({ syslog: { policy: 'block', maxBytes: 16 * 1024 * 1024, ...mem }, gelf: { policy: 'drop-oldest', maxBytes: 1_000_000, ...mem } });
    // spool=disk: 1 MiB in memory unless queue-size says otherwise; never blocks
    const withFluentd = [...kinds, { name: 'fluentd', optionNames: ['fluentd-address'] }];
    const withJournald = [...withFluentd, { name: 'journald', optionNames: ['tag'] }];
    const spooled = parseLogOptions({ sinks: 'syslog,fluentd,journald', spool: 'disk', 'queue-full': 'block', 'spool-max-size': '2g' }, withJournald).queues;
    expect(spooled.fluentd).toEqual({ policy: 'drop-newest', maxBytes: 1024 * 1024, spool: true, spoolMaxBytes: 2e9 });
    expect(spooled.syslog).toEqual({ policy: 'drop-newest', maxBytes: 1024 * 1024, spool: true, spoolMaxBytes: 2e9 });
    // a sink that cannot spool keeps its memory queue under a host-wide spool=disk, and refuses its own
    expect(spooled.journald).toEqual({ policy: 'block', maxBytes: 16 * 1024 * 1024, spool: false, spoolMaxBytes: 2e9 });
    expect(() => parseLogOptions({ sinks: 'journald', 'journald-spool': 'disk' }, withJournald)).toThrow(/journald-spool="disk": the journald sink cannot spool to disk yet/);
    expect(() => parseLogOptions({ sinks: 'syslog', spool: 'tape' }, kinds)).toThrow(/spool="tape": unknown spool \(disk or memory\)/);
    expect(() => parseLogOptions({ 'queue-full': 'wait' }, kinds)).toThrow(/queue-full="wait": unknown policy \(block, drop-newest, drop-oldest\)/);
    expect(() => parseLogOptions({ sinks: 'gelf', 'gelf-queue-size': '1k' }, kinds)).toThrow(/gelf-queue-size="1k": out of range/);
    expect(() => parseLogOptions({ 'gelf-queue-full': 'block' }, kinds)).toThrow(/gelf-queue-full belongs to the gelf sink, which is not selected/);
    expect(() => parseLogOptions({ 'json-file-queue-full': 'block' }, kinds)).toThrow(/json-file store has no queue/);
  });

  it('turns filter log-opts into chain specs in a fixed order, and refuses malformed ones naming the option', () => {
    const o = parseLogOptions({
      'filter-sample': '10',
      'filter-exclude': '^DEBUG',
      'filter-multiline': 'java',
      'filter-redact': 'bearer,email',
      'filter-set': 'env=prod,team=web',
      'filter-parse': 'json',
      'filter-rate-limit': '100',
      'filter-rate-burst': '200',
      'filter-multiline-timeout': '250ms',
    });
    expect(o.filters.map((f) => f.spec)).toEqual([
      { type: 'multiline', preset: 'java', timeoutMs: 250 },
      { type: 'parse', format: 'json' },
      { type: 'exclude', pattern: '^DEBUG' },
      { type: 'redact', builtin: ['bearer', 'email'] },
      { type: 'set', fields: { env: 'prod', team: 'web' } },
      { type: 'rate-limit', rate: 100, burst: 200 },
      { type: 'sample', every: 10 },
    ]);
    expect(() => parseLogOptions({ 'filter-rate-burst': '5' })).toThrow(/filter-rate-burst="5": no rate limit is set/);
    expect(() => parseLogOptions({ 'filter-sample': '0' })).toThrow(/filter-sample="0": not a whole number of at least 1/);
    expect(() => parseLogOptions({ 'filter-set': 'novalue' })).toThrow(/filter-set="novalue": 'novalue' is not a key=value pair/);
    expect(() => parseLogOptions({ 'filter-multiline': 'java', 'filter-multiline-start': '^x' })).toThrow(/filter-multiline-start.*cannot be combined with filter-multiline/);
    expect(() => parseLogOptions({ 'filter-multiline-timeout': 'soon', 'filter-multiline': 'go' })).toThrow(/filter-multiline-timeout="soon"/);
  });

  it('collects route-<sink> conditions for selected sinks, json-file included', () => {
    const kinds = [{ name: 'gelf', optionNames: ['gelf-address'] }];
    const o = parseLogOptions({ sinks: 'gelf', 'route-gelf': 'stream=stderr', 'route-json-file': 'line=x' }, kinds);
    expect(o.routes).toEqual({ gelf: 'stream=stderr', 'json-file': 'line=x' });
    expect(() => parseLogOptions({ 'route-gelf': 'stream=stderr' }, kinds)).toThrow(/route-gelf belongs to the gelf sink/);
    expect(() => parseLogOptions({ 'route-nowhere': 'x=1' }, kinds)).toThrow(/unknown log opt 'route-nowhere'/);
  });

  it('partial-merge: auto by default, bounded', () => {
    expect(parseLogOptions({}).partial).toEqual({ mode: 'auto', maxBytes: 1024 * 1024, timeoutMs: 1000 });
    expect(parseLogOptions({ 'partial-merge': 'false', 'partial-max-size': '64k', 'partial-timeout': '2s' }).partial).toEqual({ mode: 'off', maxBytes: 64_000, timeoutMs: 2000 });
    expect(() => parseLogOptions({ 'partial-max-size': '1k' })).toThrow(/partial-max-size="1k": out of range/);
  });

  it('caps the number and size of options', () => {
    const many: Record<string, string> = {};
    for (let i = 0; i < 300; i++) many[`k${i}`] = 'v';
    expect(() => parseLogOptions(many)).toThrow(/too many log opts/);
    expect(() => parseLogOptions({ tag: 'x'.repeat(70_000) })).toThrow(/tag: value longer than/);
  });
});
