import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { ContainerInfo } from '../../src/docker/container-info.js';
import { compileTag, DEFAULT_TAG_TEMPLATE, renderTag, TagTemplateError } from '../../src/docker/tag-template.js';

const INFO: ContainerInfo = {
  Config: { 'max-size': '10m', tag: '{{.Name}}' },
  ContainerID: '5d4a3e7c9b2f8a1e6c0d3b7f9e2a4c8d1f6b3e9a7c5d2f8b4e1a6c9d3f7b2e5a',
  ContainerName: '/test-container',
  ContainerEntrypoint: '/bin/sh',
  ContainerArgs: ['-c', 'echo hi'],
  ContainerImageID: 'sha256:9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0',
  ContainerImageName: 'test-image:latest',
  ContainerCreated: '2024-05-01T10:20:30.123456789Z',
  ContainerEnv: ['PATH=/usr/bin', 'FOO=bar'],
  ContainerLabels: { 'com.docker.compose.service': 'web', 'com.docker.compose.project': 'shop', env: 'prod' },
  LogPath: '/var/lib/docker/containers/5d4a/5d4a-json.log',
  DaemonName: 'docker',
};

/** An Info the way the daemon sends it for a container without args, env or labels. */
const EMPTY: ContainerInfo = {
  ...INFO,
  Config: null,
  ContainerArgs: null,
  ContainerEnv: null,
  ContainerLabels: null,
};

const render = (template: string, info: ContainerInfo = INFO, host = 'host-1'): string => compileTag(template)(info, host);

/** The error a template raises, at compile or at render time. */
function errorOf(template: string, info: ContainerInfo = INFO): TagTemplateError {
  try {
    render(template, info);
  } catch (e) {
    expect(e).toBeInstanceOf(TagTemplateError);
    return e as TagTemplateError;
  }
  throw new Error(`no error for ${template}`);
}

describe('Info methods', () => {
  it.each([
    ['{{.ID}}', '5d4a3e7c9b2f'],
    ['{{.FullID}}', INFO.ContainerID],
    ['{{.Name}}', 'test-container'],
    ['{{.Command}}', '/bin/sh -c echo hi'],
    ['{{.ImageID}}', '9f8e7d6c5b4a'],
    ['{{.ImageFullID}}', INFO.ContainerImageID],
    ['{{.ImageName}}', 'test-image:latest'],
    ['{{.Hostname}}', 'host-1'],
    ['{{.DaemonName}}', 'docker'],
  ])('%s', (template, expected) => {
    expect(render(template)).toBe(expected);
    // The same through the interpreter (spaces in the action bypass the fast path).
    expect(render(template.replace('{{', '{{ ').replace('}}', ' }}'))).toBe(expected);
  });

  it('.ID drops an algorithm prefix and keeps short IDs whole', () => {
    expect(render('{{.ID}}', { ...INFO, ContainerID: 'sha256:0123456789abcdef' })).toBe('0123456789ab');
    expect(render('{{ .ID }}', { ...INFO, ContainerID: 'sha256:0123456789abcdef' })).toBe('0123456789ab');
    expect(render('{{.ID}}', { ...INFO, ContainerID: 'abc' })).toBe('abc');
    expect(render('{{.ImageID}}', { ...INFO, ContainerImageID: 'abcdef' })).toBe('abcdef');
  });

  it('.Name keeps a name without a leading slash', () => {
    expect(render('{{.Name}}', { ...INFO, ContainerName: 'plain' })).toBe('plain');
    expect(render('{{.Name}}', { ...INFO, ContainerName: '//double' })).toBe('/double');
  });

  it('.Command is the entrypoint alone when there are no args', () => {
    expect(render('{{.Command}}', EMPTY)).toBe('/bin/sh');
    expect(render('{{ .Command }}', { ...INFO, ContainerArgs: [] })).toBe('/bin/sh');
    expect(render('[{{.Command}}]', { ...INFO, ContainerEntrypoint: '', ContainerArgs: ['a'] })).toBe('[ a]');
  });

  it('.Hostname defaults to os.hostname()', () => {
    expect(compileTag('{{.Hostname}}')(INFO)).toBe(hostname());
    expect(compileTag('host={{.Hostname}}')(INFO)).toBe(`host=${hostname()}`);
  });

  it('reproduces moby log_tag_test.go', () => {
    const info: ContainerInfo = {
      ...EMPTY,
      ContainerID: 'container-abcdefghijklmnopqrstuvwxyz01234567890',
      ContainerName: '/test-container',
      ContainerImageID: 'image-abcdefghijklmnopqrstuvwxyz01234567890',
      ContainerImageName: 'test-image',
      DaemonName: 'test-dockerd',
    };
    expect(renderTag('', info, '{{.ID}}')).toBe('container-ab');
    expect(renderTag('{{.ImageName}}/{{.Name}}/{{.ID}}', info, '{{.ID}}')).toBe('test-image/test-container/container-ab');
    expect(renderTag('', info, '{{.DaemonName}}/{{.ID}}')).toBe('test-dockerd/container-ab');
  });
});

describe('Info fields', () => {
  it.each([
    ['{{.ContainerID}}', INFO.ContainerID],
    ['{{.ContainerName}}', '/test-container'],
    ['{{.ContainerEntrypoint}}', '/bin/sh'],
    ['{{.ContainerArgs}}', '[-c echo hi]'],
    ['{{.ContainerImageID}}', INFO.ContainerImageID],
    ['{{.ContainerImageName}}', 'test-image:latest'],
    ['{{.ContainerCreated}}', '2024-05-01 10:20:30.123456789 +0000 UTC'],
    ['{{.ContainerEnv}}', '[PATH=/usr/bin FOO=bar]'],
    ['{{.ContainerLabels}}', 'map[com.docker.compose.project:shop com.docker.compose.service:web env:prod]'],
    ['{{.Config}}', 'map[max-size:10m tag:{{.Name}}]'],
    ['{{.LogPath}}', '/var/lib/docker/containers/5d4a/5d4a-json.log'],
    ['{{.DaemonName}}', 'docker'],
  ])('%s', (template, expected) => {
    expect(render(template)).toBe(expected);
  });

  it('nil maps and slices print like Go', () => {
    expect(render('{{.ContainerLabels}}|{{.Config}}|{{.ContainerArgs}}|{{.ContainerEnv}}', EMPTY)).toBe('map[]|map[]|[]|[]');
  });

  it('ContainerCreated prints as time.Time.String()', () => {
    const at = (ContainerCreated: string) => render('{{.ContainerCreated}}', { ...INFO, ContainerCreated });
    expect(at('2024-05-01T10:20:30Z')).toBe('2024-05-01 10:20:30 +0000 UTC');
    expect(at('2024-05-01T10:20:30.500Z')).toBe('2024-05-01 10:20:30.5 +0000 UTC');
    expect(at('2024-05-01T10:20:30.5+02:00')).toBe('2024-05-01 10:20:30.5 +0200 +0200');
    expect(at('')).toBe('0001-01-01 00:00:00 +0000 UTC');
  });

  it('a map field is indexed with field syntax; a missing key prints <no value>', () => {
    expect(render('{{.ContainerLabels.env}}')).toBe('prod');
    expect(render('{{.Config.tag}}')).toBe('{{.Name}}');
    expect(render('{{.ContainerLabels.missing}}')).toBe('<no value>');
    expect(render('{{.ContainerLabels.env}}', EMPTY)).toBe('<no value>');
    // Field syntax splits at dots: com -> docker -> ... is a chain of missing keys, not one label.
    expect(render('{{.ContainerLabels.com.docker.compose.service}}')).toBe('<no value>');
  });

  it('labels with dots are read with index', () => {
    expect(render('{{index .ContainerLabels "com.docker.compose.service"}}')).toBe('web');
    expect(render('{{index .ContainerLabels `com.docker.compose.project`}}')).toBe('shop');
    // index gives the zero value for a missing key, also on a nil map.
    expect(render('[{{index .ContainerLabels "nope"}}]')).toBe('[]');
    expect(render('[{{index .ContainerLabels "com.docker.compose.service"}}]', EMPTY)).toBe('[]');
  });

  it('{{.}} prints the Info struct', () => {
    const out = render('{{.}}', { ...EMPTY, ContainerArgs: ['x'], ContainerLabels: { a: 'b' } });
    expect(out).toBe(
      `{map[] ${INFO.ContainerID} /test-container /bin/sh [x] ${INFO.ContainerImageID} test-image:latest ` +
        '2024-05-01 10:20:30.123456789 +0000 UTC [] map[a:b] /var/lib/docker/containers/5d4a/5d4a-json.log docker}',
    );
  });
});

describe('moby template functions', () => {
  it('json encodes without HTML escaping and without a trailing newline', () => {
    expect(render('{{json .Name}}')).toBe('"test-container"');
    expect(render('{{json "<a&b>"}}')).toBe('"<a&b>"');
    expect(render('{{json .ContainerArgs}}')).toBe('["-c","echo hi"]');
    expect(render('{{json .ContainerLabels}}')).toBe(
      '{"com.docker.compose.project":"shop","com.docker.compose.service":"web","env":"prod"}',
    );
    expect(render('{{json .ContainerLabels}}|{{json .ContainerArgs}}', EMPTY)).toBe('null|null');
    expect(render('{{json .ContainerCreated}}')).toBe('"2024-05-01T10:20:30.123456789Z"');
    expect(render('{{json .ContainerLabels.missing}}')).toBe('null');
    expect(render('{{json 42}} {{json true}} {{json "a\\u2028b\\n"}}')).toBe('42 true "a\\u2028b\\n"');
    expect(JSON.parse(render('{{json .}}'))).toMatchObject({ ContainerName: '/test-container', ContainerEnv: INFO.ContainerEnv });
  });

  it('split and join', () => {
    expect(render('{{split "a,b,,c" ","}}')).toBe('[a b  c]');
    expect(render('{{join (split .Name "-") "_"}}')).toBe('test_container');
    expect(render('{{join .ContainerArgs "+"}}')).toBe('-c+echo hi');
    expect(render('[{{join .ContainerArgs "+"}}]', EMPTY)).toBe('[]');
    expect(render('{{len (split "" ",")}} {{split "héj" ""}}')).toBe('1 [h é j]');
  });

  it('title, lower, upper', () => {
    expect(render('{{title "hello wORLD foo-bar x_y 3d"}}')).toBe('Hello WORLD Foo-Bar X_y 3d');
    expect(render('{{title .Name}}')).toBe('Test-Container');
    expect(render('{{lower "ÀB-C"}} {{upper .Name}}')).toBe('àb-c TEST-CONTAINER');
    expect(render('{{upper "straße"}}')).toBe('STRAßE'); // unicode.ToUpper maps rune to rune
  });

  it('pad adds spaces only around a non-empty string', () => {
    expect(render('[{{pad .Name 2 3}}]')).toBe('[  test-container   ]');
    expect(render('[{{pad "" 2 3}}]')).toBe('[]');
    expect(render('[{{pad .ContainerLabels.env 0 1}}]')).toBe('[prod ]');
  });

  it('truncate cuts at a byte length', () => {
    expect(render('{{truncate .ID 5}}')).toBe('5d4a3');
    expect(render('{{truncate .Name 100}}')).toBe('test-container');
    expect(render('{{truncate .Name 14}}')).toBe('test-container');
    expect(render('[{{truncate .Name 0}}]')).toBe('[]');
    expect(render('{{truncate "héllo" 3}}')).toBe('hé');
    expect(render('{{5 | truncate .FullID}}')).toBe('5d4a3');
  });
});

describe('text/template builtins', () => {
  it('index and len', () => {
    expect(render('{{index .ContainerArgs 1}}')).toBe('echo hi');
    expect(render('{{index .Name 0}}')).toBe('116'); // a byte
    expect(render('{{len .Name}} {{len "é"}} {{len .ContainerArgs}} {{len .ContainerLabels}} {{len .ContainerEnv}}', INFO)).toBe(
      '14 2 2 3 2',
    );
    expect(render('{{len .ContainerLabels}}', EMPTY)).toBe('0');
    expect(render('{{slice .Name 5}} {{slice .ContainerArgs 0 1}}')).toBe('container [-c]');
  });

  it('print, println and printf', () => {
    expect(render('{{print .Name 1 2 "x" 3}}')).toBe('test-container1 2x3');
    expect(render('{{println .Name 1}}')).toBe('test-container 1\n');
    expect(render('{{printf "%s/%d/%v/%q" .Name 42 .ContainerArgs "x"}}')).toBe('test-container/42/[-c echo hi]/"x"');
    expect(render('{{printf "%5s|%-5s|%05d|%x|%.3s|%%" "ab" "cd" 42 255 .Name}}')).toBe('   ab|cd   |00042|ff|tes|%');
    expect(render('{{printf "%d" .Name}}')).toBe('%!d(string=test-container)');
    expect(render('{{printf "%s-%s" .Name}}')).toBe('test-container-%!s(MISSING)');
    expect(render('{{printf "%s" .Name 7}}')).toBe('test-container%!(EXTRA int=7)');
    expect(render('{{printf "%v" .ContainerLabels.nope}}')).toBe('<nil>');
    expect(render('{{.Name | printf "%s!"}}')).toBe('test-container!');
  });

  it('comparisons and logic', () => {
    expect(render('{{eq .Name "test-container"}} {{eq .Name "a" "b" "test-container"}} {{ne 1 2}}')).toBe('true true true');
    expect(render('{{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1 2}}')).toBe('true true true false');
    expect(render('{{and .Name .DaemonName}}|{{and "" .Name}}|{{or "" .Name}}|{{or "" ""}}')).toBe('docker||test-container|');
    expect(render('{{not .ContainerEnv}} {{not .ContainerLabels.nope}}')).toBe('false true');
    // and / or short-circuit: the failing field is never evaluated.
    expect(render('[{{and "" .Nope}}]')).toBe('[]');
    expect(render('{{or .Name .Nope}}')).toBe('test-container');
    expect(errorOf('{{eq 1 "a"}}').message).toContain('error calling eq: incompatible types for comparison');
  });

  it('html, js and urlquery escape the printed value', () => {
    expect(render(`{{html "<a href='x'>&</a>"}}`)).toBe('&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;');
    expect(render('{{js "a\'b<c>"}}')).toBe("a\\'b\\u003Cc\\u003E");
    expect(render('{{urlquery "a b&c=d/é"}}')).toBe('a+b%26c%3Dd%2F%C3%A9');
  });
});

describe('syntax', () => {
  it('copies text outside actions verbatim', () => {
    expect(render('docker/{{.Name}} {x} }}')).toBe('docker/test-container {x} }}');
    expect(render('no actions at all')).toBe('no actions at all');
    expect(render('{{ .Name }}')).toBe('test-container');
    expect(render('{{\t.Name\n}}')).toBe('test-container');
  });

  it('pipelines pass the value as the last argument', () => {
    expect(render('{{.Name | upper}}')).toBe('TEST-CONTAINER');
    expect(render('{{.Name | upper | printf "<%s>"}}')).toBe('<TEST-CONTAINER>');
    expect(render('{{.ImageName | split ":" | len}}')).toBe('1'); // split(":", ImageName): ":" has no ImageName in it
    expect(render('{{(split .ImageName ":") | len}}')).toBe('2');
    expect(render('{{index (split .ImageName ":") 0 | upper}}')).toBe('TEST-IMAGE');
  });

  it('parenthesised sub-expressions and field chains on them', () => {
    expect(render('{{join (split (lower (upper .Name)) "-") "."}}')).toBe('test.container');
    expect(render('{{(.ContainerLabels).env}}')).toBe('prod');
  });

  it('trim markers remove adjacent whitespace', () => {
    expect(render('a  \n {{- .Name -}} \n\t b')).toBe('atest-containerb');
    expect(render('a {{- .Name}} b')).toBe('atest-container b');
    expect(render('a {{.Name -}} b')).toBe('a test-containerb');
    expect(render('x {{-3}}')).toBe('x -3'); // no space after the minus: a negative number
    expect(render('{{- .Name -}}')).toBe('test-container');
  });

  it('comments', () => {
    expect(render('a{{/* a comment */}}b')).toBe('ab');
    expect(render('a {{- /* trimmed */ -}} b')).toBe('ab');
    expect(render('{{/* multi\nline */}}{{.Name}}')).toBe('test-container');
  });

  it('string literals with Go escapes and raw strings', () => {
    expect(render('{{"a\\tb"}}')).toBe('a\tb');
    expect(render('{{"\\u00e9\\x41\\101\\"q\\""}}')).toBe('éAA"q"');
    expect(render('{{"\\xc3\\xa9"}}')).toBe('é');
    expect(render('{{`raw\\n{{x}}`}}')).toBe('raw\\n{{x}}');
  });

  it('number literals', () => {
    expect(render('{{print 42 -7 0x1F 0o17 017 0b101 1_000 \'a\'}}')).toBe('42 -7 31 15 15 5 1000 97');
    expect(render('{{print 1.5 1e6 0.0001}}')).toBe('1.5 1e+06 0.0001');
    expect(render('{{truncate .Name 4.0}}')).toBe('test'); // an integral float is an int argument
  });

  it('if / else if / else, with, range, variables', () => {
    expect(render('{{if .ContainerLabels.env}}env={{.ContainerLabels.env}}{{else}}none{{end}}')).toBe('env=prod');
    expect(render('{{if .ContainerLabels.env}}x{{else}}none{{end}}', EMPTY)).toBe('none');
    expect(render('{{if .ContainerLabels.nope}}a{{else if eq .Name "x"}}b{{else}}c{{end}}')).toBe('c');
    expect(render('{{with .ContainerLabels.env}}[{{.}}]{{else}}-{{end}}')).toBe('[prod]');
    expect(render('{{range $i, $a := .ContainerArgs}}{{$i}}:{{$a}};{{end}}')).toBe('0:-c;1:echo hi;');
    expect(render('{{range $k, $v := .ContainerLabels}}{{$k}}={{$v}},{{end}}')).toBe(
      'com.docker.compose.project=shop,com.docker.compose.service=web,env=prod,',
    );
    expect(render('{{range .ContainerEnv}}{{if eq . "FOO=bar"}}{{break}}{{end}}[{{.}}]{{end}}')).toBe('[PATH=/usr/bin]');
    expect(render('{{range .ContainerArgs}}x{{else}}none{{end}}', EMPTY)).toBe('none');
    expect(render('{{$svc := index .ContainerLabels "com.docker.compose.service"}}{{$svc}}-{{$.Name}}')).toBe('web-test-container');
    expect(render('{{$n := .Name}}{{$n = upper $n}}{{$n}}')).toBe('TEST-CONTAINER');
  });

  it('real-world tags', () => {
    expect(render('{{.ImageName}}/{{.Name}}/{{.ID}}')).toBe('test-image:latest/test-container/5d4a3e7c9b2f');
    expect(render('docker.{{index .ContainerLabels "com.docker.compose.project"}}.{{index .ContainerLabels "com.docker.compose.service"}}')).toBe(
      'docker.shop.web',
    );
    expect(render('{{.DaemonName}}|{{.Hostname}}|{{.Name}}')).toBe('docker|host-1|test-container');
  });
});

describe('parse errors (thrown by compileTag)', () => {
  it.each([
    ['{{.Name', 'template: log-tag:1: unclosed action'],
    ['{{foo .Name}}', 'template: log-tag:1: function "foo" not defined'],
    ['{{.Name}', "template: log-tag:1: bad character U+007D '}'"],
    ['{{(.Name)x}}', 'template: log-tag:1: unexpected "x" in operand'],
    ['{{end}}', 'template: log-tag:1: unexpected {{end}}'],
    ['{{if .Name}}x', 'template: log-tag:1: unexpected EOF'],
    ['{{/* x }}', 'template: log-tag:1: unclosed comment'],
    ['{{$x}}', 'template: log-tag:1: undefined variable "$x"'],
    ['{{.ContainerLabels.my-label}}', "template: log-tag:1: bad character U+002D '-'"],
    ['{{"abc}}', 'template: log-tag:1: unterminated quoted string'],
    ['{{(.Name}}', 'template: log-tag:1: unclosed left paren'],
    ['{{.Name | 12}}', 'template: log-tag:1: non executable command in pipeline stage 2'],
    ['{{}}', 'template: log-tag:1: missing value for command'],
    ['{{"\\q"}}', 'template: log-tag:1: invalid syntax'],
    ['{{break}}', 'template: log-tag:1: {{break}} outside {{range}}'],
    ['a\n{{.Name\n', 'template: log-tag:3: unclosed action started at log-tag:2'],
  ])('%j', (template, message) => {
    expect(() => compileTag(template)).toThrow(TagTemplateError);
    expect(() => compileTag(template)).toThrow(message);
    expect(errorOf(template).message).toBe(message);
  });
});

describe('execution errors (thrown by the renderer)', () => {
  it('unknown field: compiles, fails when rendered', () => {
    const fn = compileTag('{{.Nope}}');
    expect(() => fn(INFO)).toThrow(TagTemplateError);
    expect(() => fn(INFO)).toThrow(
      'template: log-tag:1:2: executing "log-tag" at <.Nope>: can\'t evaluate field Nope in type *logger.Info',
    );
  });

  it.each([
    ['a\n {{.Nope}}', 'template: log-tag:2:3: executing "log-tag" at <.Nope>: can\'t evaluate field Nope in type *logger.Info'],
    // A chained field node is positioned at its second element, as in Go.
    ['{{.Name.Foo}}', 'template: log-tag:1:7: executing "log-tag" at <.Name.Foo>: can\'t evaluate field Foo in type string'],
    ['{{upper}}', 'template: log-tag:1:2: executing "log-tag" at <upper>: wrong number of args for upper: want 1 got 0'],
    [
      '{{upper .ContainerArgs}}',
      'template: log-tag:1:8: executing "log-tag" at <.ContainerArgs>: wrong type for value; expected string; got []string',
    ],
    ['{{.ID | truncate 5}}', 'template: log-tag:1:17: executing "log-tag" at <5>: expected string; found 5'],
    [
      '{{truncate .Name -1}}',
      'template: log-tag:1:2: executing "log-tag" at <truncate .Name -1>: error calling truncate: runtime error: slice bounds out of range [:-1]',
    ],
    [
      '{{index .ContainerArgs 5}}',
      'template: log-tag:1:2: executing "log-tag" at <index .ContainerArgs...>: error calling index: index out of range: 5',
    ],
    ['{{.ContainerLabels.nope | upper}}', 'template: log-tag:1:26: executing "log-tag" at <upper>: invalid value; expected string'],
    ['{{.Name 1}}', 'template: log-tag:1:2: executing "log-tag" at <.Name>: wrong number of args for Name: want 0 got 1'],
    ['{{template "x"}}', 'template: log-tag:1:11: executing "log-tag" at <{{template "x"}}>: template "x" not defined'],
  ])('%j', (template, message) => {
    expect(() => compileTag(template)).not.toThrow();
    expect(errorOf(template).message).toBe(message);
  });
});

describe('renderTag (loggerutils.ParseLogTag)', () => {
  it('uses the default template when the tag is empty', () => {
    expect(renderTag('', INFO, DEFAULT_TAG_TEMPLATE)).toBe('5d4a3e7c9b2f');
    expect(renderTag('', INFO, '{{.Name}}')).toBe('test-container');
  });

  it('prefers the tag over the default', () => {
    expect(renderTag('{{.Name}}-{{.ID}}', INFO, '{{.ID}}')).toBe('test-container-5d4a3e7c9b2f');
    expect(renderTag('static', INFO, '{{.ID}}')).toBe('static');
  });

  it('returns "" when both are empty', () => {
    expect(renderTag('', INFO, '')).toBe('');
  });

  it('uses os.hostname() for .Hostname', () => {
    expect(renderTag('{{.Hostname}}', INFO, '')).toBe(hostname());
  });

  it('propagates parse and execution errors', () => {
    expect(() => renderTag('{{.Name', INFO, '{{.ID}}')).toThrow('template: log-tag:1: unclosed action');
    expect(() => renderTag('', INFO, '{{.Nope}}')).toThrow(TagTemplateError);
  });
});

describe('compileTag', () => {
  it('uses direct getters for the plain one-field templates', () => {
    // The fast path hands out one shared getter per template; interpreted templates get their own closure.
    expect(compileTag('{{.ID}}')).toBe(compileTag('{{.ID}}'));
    expect(compileTag('{{ .ID }}')).not.toBe(compileTag('{{ .ID }}'));
  });

  it('renders one compiled template for many containers', () => {
    const fn = compileTag('{{.Name}}@{{.ImageName}}');
    expect(fn(INFO)).toBe('test-container@test-image:latest');
    expect(fn({ ...INFO, ContainerName: '/other', ContainerImageName: 'busybox' })).toBe('other@busybox');
  });

  it('an empty template renders ""', () => {
    expect(compileTag('')(INFO)).toBe('');
  });
});
