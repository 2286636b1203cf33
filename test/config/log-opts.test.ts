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
    expect(parseLogOptions({}).jsonFile).toEqual({ maxSize: DEFAULT_MAX_SIZE, maxFile: DEFAULT_MAX_FILE, compress: false });
    expect(parseLogOptions(null).jsonFile.maxSize).toBe(20_000_000);
  });
  it("keeps Docker's max-file default of 1 when only max-size is set", () => {
    expect(parseLogOptions({ 'max-size': '10m' }).jsonFile).toEqual({ maxSize: 10_000_000, maxFile: 1, compress: false });
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
    expect(parseLogOptions({}, kinds).queueFull).toBe('drop-newest');
    expect(parseLogOptions({ 'queue-full': 'block' }, kinds).queueFull).toBe('block');
    expect(() => parseLogOptions({ 'queue-full': 'wait' }, kinds)).toThrow(/queue-full="wait": unknown policy \(drop-newest or block\)/);
  });

  it('caps the number and size of options', () => {
    const many: Record<string, string> = {};
    for (let i = 0; i < 300; i++) many[`k${i}`] = 'v';
    expect(() => parseLogOptions(many)).toThrow(/too many log opts/);
    expect(() => parseLogOptions({ tag: 'x'.repeat(70_000) })).toThrow(/tag: value longer than/);
  });
});
