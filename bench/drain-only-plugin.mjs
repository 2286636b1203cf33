#!/usr/bin/env node
// The bench's baseline: the least a log plugin can do. It answers the protocol, reads every FIFO
// eagerly (net.Socket on an O_NONBLOCK fd) and throws the bytes away. Run as a legacy plugin:
//   node bench/drain-only-plugin.mjs /run/docker/plugins/drain.sock
// It prints {"event":"eof","file":...,"bytes":N} on stdout when a FIFO reaches EOF.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';

const socketPath = process.argv[2] ?? '/run/docker/plugins/drain.sock';
fs.rmSync(socketPath, { force: true });

function readBody(req) {
  return new Promise((resolve) => {
    const parts = [];
    req.on('data', (c) => parts.push(c));
    req.on('end', () => {
      const text = Buffer.concat(parts).toString();
      resolve(text.trim() === '' ? {} : JSON.parse(text));
    });
  });
}

const server = http.createServer(async (req, res) => {
  const body = await readBody(req);
  const reply = (obj) => res.end(JSON.stringify(obj));
  switch (req.url) {
    case '/Plugin.Activate':
      return reply({ Implements: ['LogDriver'] });
    case '/LogDriver.Capabilities':
      return reply({ Cap: { ReadLogs: false } });
    case '/LogDriver.StartLogging': {
      const fd = fs.openSync(body.File, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      const sock = new net.Socket({ fd, readable: true, writable: false });
      let bytes = 0;
      sock.on('data', (c) => (bytes += c.length));
      sock.on('end', () => process.stdout.write(JSON.stringify({ event: 'eof', file: body.File, bytes }) + '\n'));
      sock.on('error', () => undefined);
      return reply({ Err: '' });
    }
    case '/LogDriver.StopLogging':
      return reply({ Err: '' });
    default:
      res.statusCode = 404;
      return reply({ Err: 'unknown' });
  }
});
server.listen(socketPath, () => process.stdout.write(JSON.stringify({ event: 'listening', socket: socketPath }) + '\n'));
process.on('SIGTERM', () => {
  fs.rmSync(socketPath, { force: true });
  process.exit(0);
});
