import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fromHumanSize } from '../config/go-parse.js';
import { createPluginApp, listenForMetrics, listenOnSocket } from '../docker/plugin-api.js';
import { log } from '../log.js';
import { LoggingService } from '../pipeline/logging-service.js';
import { loadPipelineFile } from '../pipeline/plan.js';
import { setQueueMemoryLimit } from '../sinks/util/bounded-queue.js';
import { parseRetentionDuration, RetentionSweeper } from '../pipeline/retention.js';

export const SERVE_USAGE = `  serve     run the log-driver plugin
            --socket PATH      plugin socket; its base name is the driver name
                               (default $LOGFAN_SOCKET or /run/docker/plugins/logfan.sock)
            --data-root DIR    where container logs are stored
                               (default $LOGFAN_DATA_ROOT or /var/lib/logfan)
            --fifo-root DIR    where the daemon's FIFOs are (default /run/docker/logging)
            --docker-socket P  the daemon's API socket, asked which containers were removed
                               so their logs go too; '' to never ask
                               (default $LOGFAN_DOCKER_SOCKET or /var/run/docker.sock)
            --max-age D        also delete logs of containers not logging for D (30d, 12h)
                               (default $LOGFAN_MAX_AGE or off)
            --max-data-root-size S  delete the oldest stopped containers' logs while the data
                               root is larger than S (10g, 500m) (default $LOGFAN_MAX_DATA_ROOT_SIZE or off)
            --retention-interval D  how often to apply those rules (default 5m)
            --metrics ADDR     also serve /metrics, /health and /status on host:port or a
                               unix socket path (default $LOGFAN_METRICS or only on --socket)
            --tls-dir DIRS     where TLS CA/cert/key files named in a container's log-opts
                               may be (':'-separated; default $LOGFAN_TLS_DIR or DATA_ROOT/tls)
            --queue-memory S   bytes all network sink queues may hold together; past it they
                               drop by their policy, counted (default $LOGFAN_QUEUE_MEMORY or 64m)
            --config FILE      host-wide pipeline file (YAML or JSON): sinks, options and
                               filters by container name, image or label; re-read on SIGHUP
                               and by \`logfan reload\` (default $LOGFAN_CONFIG or none)
`;

export async function runServeCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      socket: { type: 'string', default: process.env.LOGFAN_SOCKET ?? '/run/docker/plugins/logfan.sock' },
      'data-root': { type: 'string', default: process.env.LOGFAN_DATA_ROOT ?? '/var/lib/logfan' },
      'fifo-root': { type: 'string', default: process.env.LOGFAN_FIFO_ROOT ?? '/run/docker/logging' },
      'docker-socket': { type: 'string', default: process.env.LOGFAN_DOCKER_SOCKET ?? '/var/run/docker.sock' },
      'max-age': { type: 'string', default: process.env.LOGFAN_MAX_AGE ?? '' },
      'max-data-root-size': { type: 'string', default: process.env.LOGFAN_MAX_DATA_ROOT_SIZE ?? '' },
      'retention-interval': { type: 'string', default: process.env.LOGFAN_RETENTION_INTERVAL ?? '5m' },
      config: { type: 'string', default: process.env.LOGFAN_CONFIG ?? '' },
      metrics: { type: 'string', default: process.env.LOGFAN_METRICS ?? '' },
      'tls-dir': { type: 'string', default: process.env.LOGFAN_TLS_DIR ?? '' },
      'queue-memory': { type: 'string', default: process.env.LOGFAN_QUEUE_MEMORY ?? '64m' },
    },
    strict: true,
  });
  const socketPath = values.socket!;
  const dataRoot = values['data-root']!;
  const maxAgeMs = parseRetentionDuration(values['max-age']!, '--max-age');
  const intervalMs = parseRetentionDuration(values['retention-interval']!, '--retention-interval');
  let maxBytes = 0;
  if (values['max-data-root-size'] !== '') {
    try {
      maxBytes = fromHumanSize(values['max-data-root-size']!);
    } catch (err) {
      throw new Error(`--max-data-root-size: ${(err as Error).message} (expected a size such as 10g or 500m)`);
    }
  }

  try {
    setQueueMemoryLimit(fromHumanSize(values['queue-memory']!));
  } catch (err) {
    throw new Error(`--queue-memory: ${(err as Error).message} (expected a size such as 64m)`);
  }
  await fs.promises.mkdir(dataRoot, { recursive: true, mode: 0o750 });
  await fs.promises.mkdir(path.dirname(socketPath), { recursive: true });
  const configFile = values.config === '' ? null : path.resolve(values.config!);
  // A bad file at start is fatal: better no plugin than one silently without its rules.
  const pipeline = configFile === null ? null : await loadPipelineFile(configFile);
  const tlsDirs = values['tls-dir'] === '' ? [path.join(dataRoot, 'tls')] : values['tls-dir']!.split(':').filter(Boolean).map((d) => path.resolve(d));
  const service = new LoggingService({ dataRoot, fifoRoot: values['fifo-root']!, logger: log, pipeline, tlsDirs });
  // Resume the FIFOs of containers that were logging before a restart, then take new calls.
  await service.reattach();
  const reload = async () => {
    if (configFile === null) throw new Error('no --config pipeline file was given');
    const next = await loadPipelineFile(configFile);
    const { containers } = await service.reload(next);
    return { containers, file: configFile };
  };
  const server = await listenOnSocket(createPluginApp(service, log, { reload: configFile === null ? undefined : reload }), socketPath);
  const metricsServer = values.metrics === '' ? null : await listenForMetrics(service, log, values.metrics!);
  const retention = new RetentionSweeper({
    dataRoot,
    dockerSocket: values['docker-socket']!,
    maxAgeMs,
    maxBytes,
    intervalMs,
    isActive: (id) => service.isLogging(id),
    logger: log,
  });
  retention.start();
  log.info({ socket: socketPath, dataRoot, pid: process.pid }, 'logfan listening');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    // Sinks wait on unref'd timers (close deadlines, reconnects): without this the process could
    // end before they flushed their queues (or spools) — with nothing else left on the loop.
    const keepAlive = setInterval(() => undefined, 1000);
    void keepAlive;
    log.info({ signal, containers: service.activeCount }, 'shutting down');
    retention.stop();
    server.close();
    server.closeAllConnections();
    metricsServer?.close();
    metricsServer?.closeAllConnections();
    await service.shutdown();
    await fs.promises.rm(socketPath, { force: true });
    process.exit(0);
  };
  process.on('SIGHUP', () => {
    reload().then(
      ({ containers }) => log.info({ file: configFile, containers }, 'SIGHUP: pipeline file reloaded'),
      (err: Error) => log.error({ file: configFile, err: err.message }, 'SIGHUP: reload refused, the running configuration stays'),
    );
  });
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}
