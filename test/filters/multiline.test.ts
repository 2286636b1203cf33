import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LogEntry } from '../../src/docker/log-entry.js';
import { multilineFactory } from '../../src/filters/multiline.js';
import { chainOf, ctx, entry, feed, make } from './helpers.js';

const SPRING = `2024-03-12 14:02:17.342 ERROR 1 --- [nio-8080-exec-3] o.a.c.c.C.[.[.[/].[dispatcherServlet]    : Servlet.service() for servlet [dispatcherServlet] in context with path [] threw exception [Request processing failed; nested exception is java.lang.NullPointerException] with root cause
java.lang.NullPointerException: Cannot invoke "String.length()" because "name" is null
\tat com.example.demo.GreetingController.greeting(GreetingController.java:21)
\tat java.base/jdk.internal.reflect.NativeMethodAccessorImpl.invoke0(Native Method)
\tat java.base/jdk.internal.reflect.NativeMethodAccessorImpl.invoke(NativeMethodAccessorImpl.java:77)
\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:883)
\tat javax.servlet.http.HttpServlet.service(HttpServlet.java:764)
\tat org.apache.tomcat.util.threads.TaskThread$WrappingRunnable.run(TaskThread.java:61)
\tat java.base/java.lang.Thread.run(Thread.java:833)`;

const JAVA_UNCAUGHT = `Exception in thread "main" java.lang.IllegalStateException: Failed to load configuration
\tat com.example.app.Config.load(Config.java:42)
\tat com.example.app.Main.main(Main.java:12)
Caused by: java.io.FileNotFoundException: /etc/app/config.yaml (No such file or directory)
\tat java.base/java.io.FileInputStream.open0(Native Method)
\tat java.base/java.io.FileInputStream.open(FileInputStream.java:216)
\tat java.base/java.io.FileInputStream.<init>(FileInputStream.java:157)
\tat com.example.app.Config.load(Config.java:38)
\t... 1 more`;

const JAVA_SUPPRESSED = `java.lang.RuntimeException: close failed
\tat com.example.Res.close(Res.java:20)
\tSuppressed: java.io.IOException: flush failed
\t\tat com.example.Res.flush(Res.java:31)
\t\t... 2 more
Caused by: java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, request timed out after 30000ms.
\tat com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)
\t... 68 common frames omitted`;

const PY = `Traceback (most recent call last):
  File "/app/server.py", line 42, in <module>
    main()
  File "/app/server.py", line 38, in main
    port = int(os.environ["PORT"])
           ^^^^^^^^^^^^^^^^^^^^^^^
ValueError: invalid literal for int() with base 10: 'http'`;

const PY_CHAINED = `Traceback (most recent call last):
  File "/app/db.py", line 12, in connect
    return psycopg2.connect(dsn)
  File "/usr/local/lib/python3.11/site-packages/psycopg2/__init__.py", line 122, in connect
    conn = _connect(dsn, connection_factory=connection_factory, **kwasync)
psycopg2.OperationalError: connection to server at "db" (172.18.0.2), port 5432 failed: Connection refused

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/app/main.py", line 5, in <module>
    db.connect()
  File "/app/db.py", line 14, in connect
    raise DatabaseUnavailable("cannot reach database") from e
db.DatabaseUnavailable: cannot reach database`;

const PY_LOGGING = `ERROR:root:Unhandled exception in worker
Traceback (most recent call last):
  File "/app/worker.py", line 88, in run
    job = self.queue[payload["user_id"]]
KeyError: 'user_id'`;

const GO = `panic: runtime error: index out of range [5] with length 3

goroutine 1 [running]:
main.lookup(...)
\t/app/main.go:12
main.main()
\t/app/main.go:18 +0x1d
exit status 2`;

const GO_HTTP = `panic: assignment to entry in nil map

goroutine 34 [running]:
main.(*Store).Put(...)
\t/src/store.go:27
main.handler({0x7f3c40, 0xc0001a6000}, 0xc0001b4000)
\t/src/main.go:44 +0x8c
net/http.HandlerFunc.ServeHTTP(0x0?, {0x7f3c40?, 0xc0001a6000?}, 0x0?)
\t/usr/local/go/src/net/http/server.go:2136 +0x29
created by net/http.(*Server).Serve in goroutine 1
\t/usr/local/go/src/net/http/server.go:3086 +0x4db

goroutine 1 gp=0xc000002380 m=nil [IO wait]:
internal/poll.runtime_pollWait(0x7f9a6c0e0e28, 0x72)
\t/usr/local/go/src/runtime/netpoll.go:343 +0x85`;

const NODE_CRASH = `/app/index.js:5
  throw new Error('boom');
  ^

Error: boom
    at Object.<anonymous> (/app/index.js:5:9)
    at Module._compile (node:internal/modules/cjs/loader:1256:14)
    at Module._extensions..js (node:internal/modules/cjs/loader:1310:10)
    at Module.load (node:internal/modules/cjs/loader:1119:32)
    at Module._load (node:internal/modules/cjs/loader:960:12)
    at Function.executeUserEntryPoint [as runMain] (node:internal/modules/run_main:86:12)
    at node:internal/main/run_main_module:23:47

Node.js v20.20.2`;

// Captured from node 20.20.2 (an ESM import of a missing package).
const NODE_ESM = `node:internal/modules/esm/resolve:873
  throw new ERR_MODULE_NOT_FOUND(packageName, fileURLToPath(base), null);
        ^

Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'zod' imported from /tmp/z.mjs
    at packageResolve (node:internal/modules/esm/resolve:873:9)
    at moduleResolve (node:internal/modules/esm/resolve:946:18)
    at defaultResolve (node:internal/modules/esm/resolve:1188:11)
    at ModuleLoader.defaultResolve (node:internal/modules/esm/loader:708:12)
    at #cachedDefaultResolve (node:internal/modules/esm/loader:657:25)
    at ModuleLoader.resolve (node:internal/modules/esm/loader:640:38)
    at ModuleLoader.getModuleJobForImport (node:internal/modules/esm/loader:264:38)
    at ModuleJob._link (node:internal/modules/esm/module_job:168:49) {
  code: 'ERR_MODULE_NOT_FOUND'
}

Node.js v20.20.2`;

const NODE_PROPS = `Error: connect ECONNREFUSED 127.0.0.1:5432
    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16) {
  errno: -111,
  code: 'ECONNREFUSED',
  syscall: 'connect',
  address: '127.0.0.1',
  port: 5432
}`;

const NODE_TYPEERROR = `TypeError: Cannot read properties of undefined (reading 'id')
    at getUser (/app/src/users.js:14:22)
    at async /app/src/routes.js:31:18`;

function ml(raw: Record<string, unknown>) {
  return chainOf([{ type: 'multiline', ...raw }]);
}

describe('multiline presets on real traces', () => {
  it('java: a logback/Spring ERROR line and its stack trace are one record; the next INFO line is its own', () => {
    const info = '2024-03-12 14:02:17.351  INFO 1 --- [nio-8080-exec-4] c.e.demo.GreetingController              : GET /greeting';
    const c = ml({ preset: 'java' });
    expect(feed(c, `${SPRING}\n${info}`)).toEqual([SPRING, info]);
    expect(c.chain.stats()['multiline#0.joined']).toBe(8);
  });

  it('java: uncaught exception with Caused by and ... N more', () => {
    const c = ml({ preset: 'java' });
    expect(feed(c, `starting\n${JAVA_UNCAUGHT}\nbye`)).toEqual(['starting', JAVA_UNCAUGHT, 'bye']);
  });

  it('java: Suppressed and common frames omitted; two traces back to back stay apart', () => {
    const c = ml({ preset: 'java' });
    expect(feed(c, `${JAVA_SUPPRESSED}\n${JAVA_UNCAUGHT}`)).toEqual([JAVA_SUPPRESSED, JAVA_UNCAUGHT]);
  });

  it('python: the final exception line is joined; the next line is not', () => {
    const c = ml({ preset: 'python' });
    expect(feed(c, `INFO:app:starting\n${PY}\nINFO:app:retrying`)).toEqual(['INFO:app:starting', PY, 'INFO:app:retrying']);
  });

  it('python: chained exceptions (blank lines, "The above exception…") are one record', () => {
    const c = ml({ preset: 'python' });
    expect(feed(c, `${PY_CHAINED}\nINFO:app:shutting down`)).toEqual([PY_CHAINED, 'INFO:app:shutting down']);
  });

  it('python: logging.exception header joins its traceback; trailing blank lines are trimmed', () => {
    const c = ml({ preset: 'python' });
    expect(feed(c, `${PY_LOGGING}\n\nINFO:root:next job`)).toEqual([PY_LOGGING, 'INFO:root:next job']);
  });

  it('go: panic, blank line, goroutines, exit status', () => {
    const c = ml({ preset: 'go' });
    expect(feed(c, `2024/03/12 14:02:17 listening on :8080\n${GO}\nafter`)).toEqual(['2024/03/12 14:02:17 listening on :8080', GO, 'after']);
  });

  it('go: http handler panic with several goroutines is one record, released at flush', () => {
    const c = ml({ preset: 'go' });
    expect(feed(c, GO_HTTP)).toEqual([GO_HTTP]);
  });

  it('go: an ordinary line after the trace releases it', () => {
    const c = ml({ preset: 'go' });
    expect(feed(c, `${GO_HTTP}\n2024/03/12 14:02:18 restarting`)).toEqual([GO_HTTP, '2024/03/12 14:02:18 restarting']);
  });

  it('node: uncaught exception with location preamble and "Node.js vNN"', () => {
    const c = ml({ preset: 'node' });
    expect(feed(c, `server listening on 3000\n${NODE_CRASH}`, 'stderr', false)).toEqual(['server listening on 3000', NODE_CRASH]);
  });

  it('node: a captured ERR_MODULE_NOT_FOUND crash with inspected properties', () => {
    const c = ml({ preset: 'node' });
    expect(feed(c, NODE_ESM, 'stderr', false)).toEqual([NODE_ESM]);
  });

  it('node: error with properties block, then a TypeError, then a normal line', () => {
    const c = ml({ preset: 'node' });
    expect(feed(c, `${NODE_PROPS}\n${NODE_TYPEERROR}\nGET /health 200 1ms`)).toEqual([NODE_PROPS, NODE_TYPEERROR, 'GET /health 200 1ms']);
  });

  it('node: a logged error message followed by its stack is one record', () => {
    const c = ml({ preset: 'node' });
    const block = `[2024-03-12T14:02:17.342Z] ERROR: request failed\n${NODE_TYPEERROR}`;
    expect(feed(c, block)).toEqual([block]);
  });

  it('ordinary lines are not held: they come out during process, not at flush', () => {
    for (const preset of ['java', 'python', 'go', 'node']) {
      const c = ml({ preset });
      for (const l of ['GET /a 200', 'user logged in', '{"level":30,"msg":"ok"}', '\tindented but alone', '    at nothing']) {
        c.chain.process(entry(l));
      }
      expect(c.texts(), preset).toEqual(['GET /a 200', 'user logged in', '{"level":30,"msg":"ok"}', '\tindented but alone', '    at nothing']);
    }
  });

  it('keeps the time and source of the first line, and copies its fields', () => {
    const c = ml({ preset: 'java' });
    const lines = JAVA_UNCAUGHT.split('\n');
    lines.forEach((l, i) => {
      const e = entry(l, 'stderr', 1000 + i, 5);
      if (i === 0) e.fields = { app: 'a' };
      c.chain.process(e);
    });
    c.chain.flush();
    expect(c.out).toHaveLength(1);
    expect(c.out[0]).toMatchObject({ source: 'stderr', timeSec: 1000, timeNsec: 5, fields: { app: 'a' } });
  });

  it('stdout and stderr are joined separately', () => {
    const c = ml({ preset: 'java' });
    const out = JAVA_UNCAUGHT.split('\n');
    const err = PY.split('\n'); // not a java trace: each line passes alone (ValueError line is held tentatively)
    c.chain.process(entry(out[0], 'stdout'));
    c.chain.process(entry('stderr says hi', 'stderr'));
    for (const l of out.slice(1)) c.chain.process(entry(l, 'stdout'));
    c.chain.flush();
    expect(c.texts()).toEqual(['stderr says hi', JAVA_UNCAUGHT]);
    expect(err.length).toBeGreaterThan(1);
  });

  it('the held record is a copy: the decoder reusing its buffer does not change it', () => {
    const c = ml({ preset: 'java' });
    const buf = Buffer.from('java.lang.IllegalStateException: x');
    const e = LogEntry.of({ source: 'stdout', timeSec: 1, timeNsec: 0, line: buf });
    c.chain.process(e);
    buf.fill(0x41);
    c.chain.process(entry('\tat a.b(C.java:1)'));
    c.chain.flush();
    expect(c.texts()).toEqual(['java.lang.IllegalStateException: x\n\tat a.b(C.java:1)']);
  });
});

describe('multiline custom patterns', () => {
  it('start: every record waits for the next start line', () => {
    const c = ml({ start: '^\\d{4}-\\d{2}-\\d{2} ' });
    const texts = feed(c, 'orphan\n2024-03-12 a\n  more a\n2024-03-12 b\n2024-03-12 c\n  more c');
    expect(texts).toEqual(['orphan', '2024-03-12 a\n  more a', '2024-03-12 b', '2024-03-12 c\n  more c']);
  });

  it('continue: matching lines are glued to the previous one', () => {
    const c = ml({ continue: '^\\s' });
    expect(feed(c, ' orphan\nline 1\n  cont 1\n  cont 2\nline 2\nline 3\n\tcont 3')).toEqual([' orphan', 'line 1\n  cont 1\n  cont 2', 'line 2', 'line 3\n\tcont 3']);
  });

  it('user patterns see UTF-8 text', () => {
    const c = ml({ start: '^» ' });
    expect(feed(c, '» début\n  suite')).toEqual(['» début\n  suite']);
  });
});

describe('multiline limits', () => {
  it('maxLines: a long trace becomes several records, none longer than maxLines', () => {
    const c = ml({ preset: 'java', maxLines: 10 });
    const lines = ['java.lang.StackOverflowError', ...Array.from({ length: 24 }, (_, i) => `\tat com.example.Rec.f(Rec.java:${i})`)];
    const texts = feed(c, lines.join('\n'));
    expect(texts.map((t) => t.split('\n').length)).toEqual([10, 10, 5]);
    expect(texts.join('\n')).toBe(lines.join('\n'));
    expect(c.chain.stats()['multiline#0.limited']).toBe(2);
  });

  it('maxBytes: records stay under the byte limit', () => {
    const c = ml({ preset: 'java', maxBytes: 1024 });
    const lines = ['java.lang.RuntimeException: big', ...Array.from({ length: 100 }, (_, i) => `\tat com.example.Big.method${i}(Big.java:${i})`)];
    const texts = feed(c, lines.join('\n'));
    expect(texts.length).toBeGreaterThan(3);
    for (const t of texts) expect(Buffer.byteLength(t)).toBeLessThanOrEqual(1024);
    expect(texts.join('\n')).toBe(lines.join('\n'));
  });
});

describe('multiline release on timeout', () => {
  afterEach(() => vi.useRealTimers());

  it('releases a held record through ctx.emit after timeoutMs without a new line (fake timers)', () => {
    vi.useFakeTimers();
    const emitted: LogEntry[] = [];
    const f = make(multilineFactory, { type: 'multiline', preset: 'go', timeoutMs: 1000 }, ctx(emitted), { now: () => Date.now() });
    for (const l of GO_HTTP.split('\n')) expect(f.process(entry(l))).toBeNull();
    vi.advanceTimersByTime(999);
    expect(emitted).toHaveLength(0);
    vi.advanceTimersByTime(2);
    expect(emitted.map((e) => e.text())).toEqual([GO_HTTP]);
    expect(f.stats().timedOut).toBe(1);
    f.close?.();
  });

  it('a line arriving restarts the wait; one timer per filter, not per line', () => {
    vi.useFakeTimers();
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
    const emitted: LogEntry[] = [];
    const f = make(multilineFactory, { type: 'multiline', preset: 'java', timeoutMs: 100 }, ctx(emitted), { now: () => Date.now() });
    f.process(entry('java.lang.IllegalStateException: slow'));
    for (let i = 0; i < 60; i++) {
      vi.advanceTimersByTime(5);
      f.process(entry(`\tat a.B.c(B.java:${i})`));
    }
    expect(emitted).toHaveLength(0); // 300 ms in all, never 100 ms without a line
    vi.advanceTimersByTime(100);
    expect(emitted).toHaveLength(1);
    expect(emitted[0].text().split('\n')).toHaveLength(61);
    // armed at hold, re-armed only when it fired before the deadline (once per ~timeoutMs), never per line
    expect(setTimeoutSpy.mock.calls.length).toBeLessThanOrEqual(6); // 400 ms at 100 ms, for 61 lines
    f.close?.();
    setTimeoutSpy.mockRestore();
  });

  it('real timers: a chain emits the record to the sink and calls onRelease', async () => {
    let released = 0;
    const c = chainOf([{ type: 'multiline', preset: 'python', timeoutMs: 20 }, { type: 'set', fields: { joined: true } }], undefined, () => released++);
    for (const l of PY.split('\n')) c.chain.process(entry(l));
    expect(c.out).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 80));
    expect(c.texts()).toEqual([PY]);
    expect(c.out[0].fields).toEqual({ joined: true });
    expect(released).toBe(1);
    c.chain.close();
  });

  it('close() stops the timer', async () => {
    const emitted: LogEntry[] = [];
    const f = make(multilineFactory, { type: 'multiline', preset: 'python', timeoutMs: 10 }, ctx(emitted));
    f.process(entry('Traceback (most recent call last):'));
    f.close?.();
    await new Promise((r) => setTimeout(r, 40));
    expect(emitted).toHaveLength(0);
  });
});

describe('multiline options', () => {
  it.each([
    [{ type: 'multiline' }, /^test: give exactly one of preset, start and continue/],
    [{ type: 'multiline', preset: 'java', start: '^x' }, /exactly one/],
    [{ type: 'multiline', preset: 'ruby' }, /^test: preset: Invalid option: expected one of "java"\|"python"\|"go"\|"node"/],
    [{ type: 'multiline', preset: 'go', maxLines: 0 }, /^test: maxLines: .*expected .*maxLines\?: integer 1\.\.100000/],
    [{ type: 'multiline', preset: 'go', timeoutMs: 0.5 }, /^test: timeoutMs: Too small/],
    [{ type: 'multiline', start: '(a)\\1' }, /^test: start: pattern .* backreferences or lookaround/],
    [{ type: 'multiline', continue: '[' }, /^test: continue: invalid regular expression/],
  ])('%j is refused', (raw, message) => {
    expect(() => multilineFactory.parseOptions(raw, 'test')).toThrow(message);
  });

  it('defaults', () => {
    expect(multilineFactory.parseOptions({ type: 'multiline', preset: 'go' }, 'test')).toEqual({ type: 'multiline', preset: 'go', maxLines: 500, maxBytes: 1048576, timeoutMs: 1000 });
  });
});

describe('multiline presets: the byte-level "could start a record" test', () => {
  // Every line of the traces above, ordinary lines, and lines that put the words the START
  // patterns look for in every case and place (or only a part of them).
  const TRACES = [SPRING, JAVA_UNCAUGHT, JAVA_SUPPRESSED, PY, PY_CHAINED, PY_LOGGING, GO, GO_HTTP, NODE_CRASH, NODE_ESM, NODE_PROPS, NODE_TYPEERROR].flatMap((t) => t.split('\n'));
  const WORDS = ['ERROR', 'Error', 'error', 'eRRoR', 'rror', 'erro', 'terror', 'Errors', 'CRITICAL', 'Critical', 'critica', 'FATAL', 'Fatal', 'fatal', 'fata', 'SEVERE', 'severe', 'sever', 'Exception', 'EXCEPTION', 'xception', 'Exceptio', 'NullPointerException', 'Throwable', 'throwable', 'hrowable', 'Traceback', 'traceback (most recent call last):', 'Traceback (most recent call last):', 'Uncaught ', 'uncaught', '[UnhandledPromiseRejection', '[unhandledpromiserejection', 'panic: ', 'goroutine 1 [running]:', 'SIGSEGV: ', '/app/x.js:5', 'node:internal/x:873', 'file:///a.mjs:3'];
  const FILLER = ['', ' ', '\t', ':', 'x', '2024-03-12 14:02:17.342 ', 'INFO ', '    at ', '\tat ', 'é', '[worker-1] ', ': boom', '\\b'];
  const line = fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...TRACES) },
    { weight: 3, arbitrary: fc.array(fc.constantFrom(...WORDS, ...FILLER), { maxLength: 5 }).map((a) => a.join('')) },
  );

  /** What comes out (returned or emitted), in order, for a sequence of lines. */
  function outputs(preset: string, precheck: boolean, lines: { text: string; stderr: boolean }[]): string[] {
    const out: string[] = [];
    const c = { ...ctx(), emit: (e: LogEntry) => out.push(`${e.source}:${e.text()}`) };
    const f = make(multilineFactory, { type: 'multiline', preset }, c, { precheck, now: () => 0 });
    let t = 0;
    for (const { text, stderr } of lines) {
      const r = f.process(entry(text, stderr ? 'stderr' : 'stdout', t++));
      if (r !== null) out.push(`${r.source}:${r.text()}`);
    }
    f.flush?.();
    f.close?.();
    return out;
  }

  it.each(['java', 'python', 'node', 'go'])('%s: records come out exactly as when every line is classified (property)', (preset) => {
    fc.assert(
      fc.property(fc.array(fc.record({ text: line, stderr: fc.boolean() }), { minLength: 1, maxLength: 12 }), (lines) => {
        expect(outputs(preset, true, lines)).toEqual(outputs(preset, false, lines));
      }),
      { numRuns: 1500, seed: 20261129 },
    );
  });
});
