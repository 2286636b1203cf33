import { describe, expect, it } from 'vitest';
import { parseFluentdAddress, parseFluentdOptions, parseGoDuration } from '../../../src/sinks/fluentd/options.js';

describe('fluentd options', () => {
  it('parses addresses like the driver', () => {
    expect(parseFluentdAddress('')).toEqual({ protocol: 'tcp', host: '127.0.0.1', port: 24224, path: '' });
    expect(parseFluentdAddress('fluent.example:24225')).toEqual({ protocol: 'tcp', host: 'fluent.example', port: 24225, path: '' });
    expect(parseFluentdAddress('tcp://h')).toEqual({ protocol: 'tcp', host: 'h', port: 24224, path: '' });
    expect(parseFluentdAddress(':1234')).toEqual({ protocol: 'tcp', host: '127.0.0.1', port: 1234, path: '' });
    expect(parseFluentdAddress('tls://[::1]:9')).toEqual({ protocol: 'tls', host: '::1', port: 9, path: '' });
    expect(parseFluentdAddress('unix:///var/run/fluent.sock')).toEqual({ protocol: 'unix', host: '', port: 0, path: '/var/run/fluent.sock' });
    expect(() => parseFluentdAddress('udp://h:1')).toThrow("unsupported scheme: 'udp'");
    expect(() => parseFluentdAddress('unixgram:///x')).toThrow("unsupported scheme: 'unixgram'");
    expect(() => parseFluentdAddress('tcp://h:1/x')).toThrow('should not contain a path element');
    expect(() => parseFluentdAddress('unix://')).toThrow('path is empty');
    expect(() => parseFluentdAddress('h:99999')).toThrow('invalid port');
    expect(() => parseFluentdAddress('h:abc')).toThrow('invalid port ":abc" after host');
  });

  it('parses Go durations with Go error texts', () => {
    expect(parseGoDuration('1s')).toBe(1e9);
    expect(parseGoDuration('1.5s')).toBe(1.5e9);
    expect(parseGoDuration('1m30s')).toBe(90e9);
    expect(parseGoDuration('300ms')).toBe(300e6);
    expect(parseGoDuration('0')).toBe(0);
    expect(parseGoDuration('-2s')).toBe(-2e9);
    expect(() => parseGoDuration('1000')).toThrow('time: missing unit in duration "1000"');
    expect(() => parseGoDuration('1q')).toThrow('time: unknown unit "q" in duration "1q"');
    expect(() => parseGoDuration('x')).toThrow('time: invalid duration "x"');
  });

  it('has Docker defaults', () => {
    const c = parseFluentdOptions({});
    expect(c).toMatchObject({ bufferLimit: 1048576, maxRetries: 2147483647, subSecondPrecision: false, requestAck: false, writeTimeoutMs: 0, asyncReconnectIntervalMs: 0 });
    expect(parseFluentdOptions({ 'fluentd-buffer-limit': '8k' }).bufferLimit).toBe(8192);
    expect(parseFluentdOptions({ 'fluentd-buffer-limit': '0' }).bufferLimit).toBe(8192);
    expect(parseFluentdOptions({ 'fluentd-max-retries': '0' }).maxRetries).toBe(13);
    expect(parseFluentdOptions({ 'fluentd-retry-wait': '250ms' }).retryWaitMs).toBe(250);
    expect(parseFluentdOptions({ 'fluentd-sub-second-precision': 'T', 'fluentd-request-ack': '1' })).toMatchObject({ subSecondPrecision: true, requestAck: true });
    expect(parseFluentdOptions({ 'fluentd-async-reconnect-interval': '2s' }).asyncReconnectIntervalMs).toBe(2000);
    expect(parseFluentdOptions({ 'fluentd-write-timeout': '5s' }).writeTimeoutMs).toBe(5000);
  });

  it('names the option and its form in every error, with Docker\'s text', () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ 'fluentd-address': 'udp://x:1' }, "invalid log opt fluentd-address=\"udp://x:1\": invalid fluentd-address (udp://x:1): unsupported scheme: 'udp' (host:port"],
      [{ 'fluentd-async': 'yes' }, 'invalid log opt fluentd-async="yes": strconv.ParseBool: parsing "yes": invalid syntax (true or false)'],
      [{ 'fluentd-async': 'true', 'fluentd-async-connect': 'true' }, "conflicting options: cannot specify both 'fluentd-async' and 'fluentd-async-connect"],
      [{ 'fluentd-buffer-limit': 'lots' }, "invalid log opt fluentd-buffer-limit=\"lots\": invalid size: 'lots'"],
      [{ 'fluentd-retry-wait': '1000' }, 'invalid log opt fluentd-retry-wait="1000": time: missing unit in duration "1000"'],
      [{ 'fluentd-max-retries': '-1' }, 'invalid log opt fluentd-max-retries="-1": strconv.ParseUint: parsing "-1": invalid syntax'],
      [{ 'fluentd-max-retries': '4294967295' }, 'invalid fluentd-max-retries: value out of range'],
      [{ 'fluentd-sub-second-precision': 'maybe' }, 'invalid log opt fluentd-sub-second-precision="maybe"'],
      [{ 'fluentd-request-ack': '2' }, 'invalid log opt fluentd-request-ack="2"'],
      [{ 'fluentd-async-reconnect-interval': '50ms' }, 'invalid value for fluentd-async-reconnect-interval: value ("50ms") must be between 100ms and 10s'],
      [{ 'fluentd-async-reconnect-interval': '1m' }, 'value ("1m0s") must be between 100ms and 10s'],
      [{ 'fluentd-write-timeout': 'soon' }, 'invalid value for fluentd-write-timeout: value must be a duration: time: invalid duration "soon"'],
      [{ 'fluentd-write-timeout': '-1s' }, 'invalid value for fluentd-write-timeout: value must be a duration that is non-negative'],
    ];
    for (const [opts, text] of cases) {
      expect(() => parseFluentdOptions(opts), JSON.stringify(opts)).toThrow(text);
    }
  });
});
