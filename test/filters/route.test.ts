import { describe, expect, it } from 'vitest';
import { compileCondition, matchesContainer, parseCondition, parseConditionString, routeFactory } from '../../src/filters/route.js';
import { ctx, entry, INFO, make } from './helpers.js';

describe('conditions', () => {
  it('container parts: name without the leading /, image, labels', () => {
    expect(matchesContainer({ name: '^api-' }, INFO)).toBe(true);
    expect(matchesContainer({ name: '^/api' }, INFO)).toBe(false);
    expect(matchesContainer({ image: '/shop/api:' }, INFO)).toBe(true);
    expect(matchesContainer({ labels: { tier: '^prod$', team: 'pay' } }, INFO)).toBe(true);
    expect(matchesContainer({ labels: { tier: '^prod$', missing: '.*' } }, INFO)).toBe(false);
    expect(matchesContainer({ labels: { tier: '^prod$' } }, { ...INFO, ContainerLabels: null })).toBe(false);
    expect(matchesContainer({}, INFO)).toBe(true);
  });

  it('entry parts: stream, fields (String()), line', () => {
    const c = compileCondition({ stream: 'stderr', fields: { status: '^5\\d\\d$' }, line: 'timeout' });
    const e = entry('upstream timeout', 'stderr');
    e.fields = { status: 504 };
    expect(c.matchesEntry(e)).toBe(true);
    e.source = 'stdout';
    expect(c.matchesEntry(e)).toBe(false);
    const noField = entry('upstream timeout', 'stderr');
    expect(c.matchesEntry(noField)).toBe(false);
  });

  it('the string form', () => {
    expect(parseConditionString('stream=stderr&&field.level=^error$&&label.tier=prod&&name=^api', 'log opt route-fluentd')).toEqual({
      stream: 'stderr',
      fields: { level: '^error$' },
      labels: { tier: 'prod' },
      name: '^api',
    });
    expect(parseConditionString(' line=a=b && image=nginx ', 'w')).toEqual({ line: 'a=b', image: 'nginx' });
  });

  it.each([
    ['', /^log opt route-x: empty condition \(expected parts joined by &&/],
    ['stream=both', /^log opt route-x: stream must be stdout or stderr, not "both"/],
    ['colour=red', /^log opt route-x: unknown key "colour"/],
    ['name=a&&&&line=b', /^log opt route-x: empty part/],
    ['name', /^log opt route-x: "name" is not key=value/],
    ['name=a&&name=b', /^log opt route-x: name given twice/],
    ['label.=x', /^log opt route-x: unknown key "label\."/],
    ['line=(a)\\1', /^log opt route-x: line: pattern .* backreferences/],
    ['field.level=', /^log opt route-x: field\.level: empty value/],
  ])('string form %j is refused', (text, message) => {
    expect(() => parseConditionString(text, 'log opt route-x')).toThrow(message);
  });

  it('object form validation', () => {
    expect(() => parseCondition({ stream: 'stdout', colour: 'x' }, 'pipeline.yaml: rules[0].match')).toThrow(/^pipeline\.yaml: rules\[0\]\.match: Unrecognized key: "colour" \(expected \{stream\?/);
    expect(() => parseCondition({ labels: { tier: '[' } }, 'w')).toThrow(/^w: labels\.tier: invalid regular expression/);
  });
});

describe('route filter', () => {
  it('drops non-matching entries as routedAway', () => {
    const f = make(routeFactory, { type: 'route', when: { stream: 'stderr', line: 'ERROR' } });
    expect(f.process(entry('ERROR x', 'stderr'))).not.toBeNull();
    expect(f.process(entry('ERROR x', 'stdout'))).toBeNull();
    expect(f.process(entry('INFO x', 'stderr'))).toBeNull();
    expect(f.stats()).toEqual({ routedAway: 2 });
  });

  it('container parts are decided once, at create', () => {
    const other = make(routeFactory, { type: 'route', when: { labels: { tier: '^dev$' } } }, ctx());
    const mine = make(routeFactory, { type: 'route', when: { labels: { tier: '^prod$' } } }, ctx());
    expect(other.process(entry('x'))).toBeNull();
    expect(mine.process(entry('x'))).not.toBeNull();
  });

  it('validation names where', () => {
    expect(() => routeFactory.parseOptions({ type: 'route' }, 'pipeline.yaml: rules[1].sink-filters.gelf[0]')).toThrow(
      /^pipeline\.yaml: rules\[1\]\.sink-filters\.gelf\[0\]: when: Invalid input: expected object/,
    );
    expect(() => routeFactory.parseOptions({ type: 'route', when: { name: '(?<=a)b' } }, 'w')).toThrow(/^w: when: name: pattern/);
  });
});
