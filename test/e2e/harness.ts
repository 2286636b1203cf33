/**
 * End-to-end helpers: a real dockerd (started by .ci/run, or already running on a developer's
 * machine), a busybox image made with `docker import`, and logfan started as a legacy plugin
 * (a socket in /run/docker/plugins). Nothing here stands in for the daemon.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const REPO = path.resolve(import.meta.dirname, '../..');
export const IMAGE = 'logfan-test/busybox:latest';
export const CLI = path.join(REPO, 'dist/cli.js');

export async function docker(args: string[], opts: { input?: string; allowFail?: boolean } = {}): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run('docker', args, { maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number };
    if (!opts.allowFail) throw new Error(`docker ${args.join(' ')} failed: ${e.stderr ?? err}`);
    return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: typeof e.code === 'number' ? e.code : 1 };
  }
}

/** Fails (never skips) when the daemon is not there: an end-to-end test that tested nothing is a defect. */
export async function requireDocker(): Promise<void> {
  const r = await docker(['info', '--format', '{{.ServerVersion}}'], { allowFail: true });
  if (r.code !== 0) {
    throw new Error(`the Docker daemon is not reachable (start it as .ci/run does): ${r.stderr.trim()}`);
  }
  const img = await docker(['image', 'inspect', IMAGE], { allowFail: true });
  if (img.code !== 0) {
    await run('bash', [path.join(REPO, 'scripts/make-test-image.sh'), IMAGE]);
  }
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build`);
}

export async function dockerDataRoot(): Promise<string> {
  const r = await docker(['info', '--format', '{{.DockerRootDir}}']);
  return r.stdout.trim();
}

export interface LogfanProcess {
  driver: string;
  socket: string;
  dataRoot: string;
  child: ChildProcess;
  /** The plugin's own log lines, parsed. */
  logLines: Array<Record<string, unknown>>;
  jsonLogPath(containerId: string): string;
  waitForStopped(containerId: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts `logfan serve` on /run/docker/plugins/<driver>.sock with a fresh data root. */
export async function startLogfan(driver: string, extraEnv: Record<string, string> = {}, existingDataRoot?: string, extraArgs: string[] = []): Promise<LogfanProcess> {
  const socket = `/run/docker/plugins/${driver}.sock`;
  const dataRoot = existingDataRoot ?? (await fs.promises.mkdtemp(path.join(os.tmpdir(), `${driver}-data-`)));
  await fs.promises.mkdir('/run/docker/plugins', { recursive: true });
  // The Node flags logfan runs with (config.json's entrypoint, dist/cli.js's shebang).
  const child = spawn(process.execPath, ['--max-semi-space-size=2', '--expose-gc', CLI, 'serve', '--socket', socket, '--data-root', dataRoot, ...extraArgs], {
    env: { ...process.env, LOGFAN_LOG_LEVEL: 'debug', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logLines: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  // info and debug arrive on stdout, warnings and errors on stderr.
  for (const stream of [child.stdout!, child.stderr!]) {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (text: string) => {
      partial += text;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        try {
          logLines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          logLines.push({ msg: line });
        }
        for (const w of waiters.splice(0)) w();
      }
    });
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 30_000;
  while (!fs.existsSync(socket)) {
    if (child.exitCode !== null) throw new Error(`logfan exited with ${child.exitCode}: ${JSON.stringify(logLines)}`);
    if (Date.now() > deadline) {
      // Never leave a logfan behind: the test's cleanup does not know about this one.
      child.kill('SIGKILL');
      throw new Error(`logfan did not create its socket within 30 s: ${JSON.stringify(logLines.slice(-5))}`);
    }
    await sleep(50);
  }
  const proc: LogfanProcess = {
    driver,
    socket,
    dataRoot,
    child,
    logLines,
    jsonLogPath: (id) => path.join(dataRoot, 'containers', id, `${id}-json.log`),
    async waitForStopped(containerId, timeoutMs = 60_000) {
      const short = containerId.slice(0, 12);
      const end = Date.now() + timeoutMs;
      for (;;) {
        if (logLines.some((l) => l.msg === 'logging stopped' && l.container === short)) return;
        if (Date.now() > end) throw new Error(`logfan did not finish logging ${short} within ${timeoutMs} ms`);
        await Promise.race([new Promise<void>((r) => waiters.push(r)), sleep(200)]);
      }
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(10_000)]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      await fs.promises.rm(socket, { force: true });
    },
  };
  return proc;
}

/**
 * A driver name unique to this test run. The daemon caches a legacy plugin's client by name for
 * its whole lifetime; a name reused across runs against the same daemon once saw no calls at all.
 */
export function uniqueDriver(base: string): string {
  return `${base}-${process.pid}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs a container detached, waits for it to exit, returns its full ID. */
export async function runToCompletion(args: string[]): Promise<string> {
  const { stdout } = await docker(['run', '-d', '--network', 'none', ...args]);
  const id = stdout.trim();
  await docker(['wait', id]);
  return id;
}

export async function removeContainers(ids: string[]): Promise<void> {
  if (ids.length > 0) await docker(['rm', '-f', ...ids], { allowFail: true });
}

/** Replaces each "time" value with a marker after checking it is Go RFC3339Nano in UTC. */
export function normalizeTimes(jsonLines: string): string {
  return jsonLines.replace(/"time":"([^"]*)"/g, (_m, t: string) => {
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{0,8}[1-9])?Z$/.test(t)) {
      throw new Error(`malformed time value: ${t}`);
    }
    return '"time":"<T>"';
  });
}

/** `docker logs` with stdout and stderr kept apart, as bytes. */
export async function dockerLogs(args: string[]): Promise<{ stdout: Buffer; stderr: Buffer }> {
  const { stdout, stderr } = await run('docker', ['logs', ...args], { maxBuffer: 512 * 1024 * 1024, encoding: 'buffer' });
  return { stdout, stderr };
}
