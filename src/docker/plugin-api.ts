import fs from 'node:fs';
import http from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '../log.js';
import type { Registry } from 'prom-client';
import type { LoggingService } from '../pipeline/logging-service.js';

/** StartLogging carries the container's env and labels; anything past this is not a daemon's request. */
const MAX_BODY = '4mb';

/**
 * The log-driver plugin API (moby daemon/logger/proxy.go, pkg/plugins/client.go): HTTP/1.1 POST
 * over a unix socket. The daemon sends no Content-Type, so the JSON parser accepts every type;
 * every answer is a JSON body, because an empty 200 fails the daemon's decoder.
 */
export interface PluginAppOptions {
  /** Re-reads the pipeline file and applies it (POST /logfan/reload, `logfan reload`). */
  reload?: () => Promise<{ containers: number; file: string | null }>;
}

export function createPluginApp(service: LoggingService, logger: Logger, appOptions: PluginAppOptions = {}): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  if (logger.isLevelEnabled('debug')) {
    app.use((req: Request, res: Response, next: NextFunction) => {
      const start = process.hrtime.bigint();
      res.on('finish', () => logger.debug({ path: req.path, status: res.statusCode, ms: Number(process.hrtime.bigint() - start) / 1e6 }, 'plugin call'));
      next();
    });
  }
  app.use(express.json({ type: () => true, limit: MAX_BODY, strict: true }));

  app.post('/Plugin.Activate', (_req, res) => {
    res.json({ Implements: ['LogDriver'] });
  });

  app.post('/LogDriver.Capabilities', (_req, res) => {
    res.json({ Cap: { ReadLogs: true }, Err: '' });
  });

  app.post('/LogDriver.StartLogging', async (req: Request, res: Response) => {
    const body = (req.body ?? {}) as { File?: unknown; Info?: unknown };
    try {
      await service.startLogging(body.File, body.Info);
      res.json({ Err: '' });
    } catch (err) {
      const message = (err as Error).message;
      logger.warn({ file: body.File, err: message }, 'StartLogging refused');
      res.json({ Err: message });
    }
  });

  app.post('/LogDriver.StopLogging', (req: Request, res: Response) => {
    const body = (req.body ?? {}) as { File?: unknown };
    // Answer first: the daemon closes the FIFO only after this, and that close is our EOF.
    res.json({ Err: '' });
    service.stopLogging(body.File);
  });

  app.post('/LogDriver.ReadLogs', (req: Request, res: Response) => {
    service.readLogs(req, res);
  });

  // Operator endpoints on the same socket (the managed plugin has no other address):
  // curl --unix-socket /run/docker/plugins/logfan.sock http://x/metrics
  app.use(createOperatorRouter(service));

  app.post('/logfan/reload', (_req, res) => {
    if (appOptions.reload === undefined) {
      res.status(404).json({ Err: 'logfan: reload is not available (no --config pipeline file was given)' });
      return;
    }
    appOptions.reload().then(
      (result) => res.json(result),
      (err: Error) => res.status(422).json({ Err: err.message }),
    );
  });

  app.use((req: Request, res: Response) => {
    res.status(404).json({ Err: `logfan: unknown endpoint ${req.method} ${req.path}` });
  });

  app.use((err: Error & { status?: number; type?: string }, req: Request, res: Response, _next: NextFunction) => {
    const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 500;
    logger.warn({ path: req.path, err: err.message }, 'bad plugin request');
    res.status(status).json({ Err: `logfan: ${req.path}: ${err.type === 'entity.parse.failed' ? 'malformed JSON body: ' : ''}${err.message}` });
  });
  return app;
}

/** GET /metrics (Prometheus), /health (200 ok, 503 degraded) and /status (JSON): read-only. */
export function createOperatorRouter(service: LoggingService): express.Router {
  const router = express.Router();
  // prom-client loads at the first scrape: every metric is read from the service when collected,
  // so nothing is missed before, and a logfan nobody scrapes does not carry it.
  let registry: Promise<Registry> | null = null;
  router.get('/metrics', (_req, res, next) => {
    registry ??= import('../observability/metrics.js').then((m) => m.createMetrics(service));
    registry.then(async (metrics) => res.type(metrics.contentType).send(await metrics.metrics())).catch(next);
  });
  router.get('/health', (_req, res) => {
    const h = service.health();
    res.status(h.status === 'ok' ? 200 : 503).json(h);
  });
  router.get('/status', (_req, res) => {
    res.json({
      containers: service.snapshot(),
      finished: service.finishedTotals,
      readLogsCalls: service.readLogsCalls,
      corruptLinesSkipped: service.corruptLinesSkipped,
      pipeline: { file: service.pipelineFile?.file ?? null, reloads: service.reloads },
    });
  });
  return router;
}

/**
 * The `--metrics` listener: the read-only operator endpoints on a TCP address (host:port) or a
 * unix socket path, for a Prometheus scraper that should not reach the plugin socket.
 */
export async function listenForMetrics(service: LoggingService, logger: Logger, address: string): Promise<http.Server> {
  const app = express();
  app.disable('x-powered-by');
  app.use(createOperatorRouter(service));
  app.use((req: Request, res: Response) => {
    res.status(404).json({ Err: `logfan: unknown endpoint ${req.method} ${req.path} (try /metrics, /health, /status)` });
  });
  const server = http.createServer(app);
  server.requestTimeout = 30_000;
  const isPath = address.startsWith('/') || address.startsWith('.');
  let host = '127.0.0.1';
  let port = 0;
  if (!isPath) {
    const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:]*)):(\d{1,5})$/.exec(address);
    if (!m || Number(m[3]) > 65535) throw new Error(`--metrics ${JSON.stringify(address)}: expected host:port (e.g. 127.0.0.1:9464) or an absolute socket path`);
    host = m[1] ?? (m[2] === '' ? '0.0.0.0' : m[2]);
    port = Number(m[3]);
  } else {
    await fs.promises.rm(address, { force: true });
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`--metrics ${address}: ${err.message}`)));
    if (isPath) server.listen(address, () => resolve());
    else server.listen(port, host, () => resolve());
  });
  if (isPath) await fs.promises.chmod(address, 0o660);
  logger.info({ metrics: address }, 'metrics listening');
  return server;
}

/** Listens on a unix socket that only root (and the socket's group) can reach. */
export async function listenOnSocket(app: express.Express, socketPath: string): Promise<http.Server> {
  await fs.promises.rm(socketPath, { force: true });
  const server = http.createServer(app);
  server.keepAliveTimeout = 0;
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await fs.promises.chmod(socketPath, 0o660);
  return server;
}
