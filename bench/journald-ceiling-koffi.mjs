// journald's ingest ceiling for one client in Node through koffi: libc send on a connected
// non-blocking socket, as logfan's journald sink (src/sinks/journald/datagram-socket.ts) sends.
// What it does on EAGAIN is KOFFI_WAIT (the alternatives measured in docs/decisions.md):
//   pause (default, as the sink): Atomics.wait for KOFFI_WAIT_US (30) µs, then retry
//   poll: poll(POLLOUT) on koffi's worker thread      usleep: usleep(KOFFI_WAIT_US) on it
//   spin: retry from setImmediate
//
//   node bench/journald-ceiling-koffi.mjs N CONTAINER_ID_FULL PREFIX IMAGE SOCKET
//
// Prints {"cpuSeconds":…,"eagain":…} on stdout at the end.
import { createRequire } from 'node:module';

const koffi = createRequire(import.meta.url)('koffi');
const libc = koffi.load('libc.so.6');
const socket = libc.func('int socket(int, int, int)');
const connect = libc.func('int connect(int, const void *, uint32)');
const send = libc.func('intptr_t send(int, const void *, size_t, int)');
const poll = libc.func('int poll(void *, uint64, int)');
const close = libc.func('int close(int)');
const usleep = libc.func('int usleep(uint32)');
const WAIT = process.env.KOFFI_WAIT ?? 'pause';
const WAIT_US = Number(process.env.KOFFI_WAIT_US ?? 30);
const cell = new Int32Array(new SharedArrayBuffer(4));

const [n, idf, prefix, image, path] = [Number(process.argv[2]), process.argv[3], process.argv[4], process.argv[5], process.argv[6]];
const id12 = idf.slice(0, 12);
const tail = `CONTAINER_ID=${id12}\nCONTAINER_ID_FULL=${idf}\nCONTAINER_NAME=bench-ceiling\nCONTAINER_TAG=${id12}\nIMAGE_NAME=${image}\nSYSLOG_IDENTIFIER=${id12}\n`;
const fd = socket(1, 2 | 0o4000 | 0o2000000, 0);
const addr = Buffer.alloc(110);
addr.writeUInt16LE(1, 0);
const plen = addr.write(path, 2);
if (connect(fd, addr, 2 + plen + 1) < 0) throw new Error(`connect errno ${koffi.errno()}`);
const pollfd = Buffer.alloc(8);
pollfd.writeInt32LE(fd, 0);
pollfd.writeInt16LE(4, 4); // POLLOUT
let i = 1;
let eagain = 0;
let msg = null;

function pump() {
  while (i <= n) {
    if (msg === null) msg = Buffer.from(`PRIORITY=6\nMESSAGE=${prefix}${i}\n${tail}`);
    const r = send(fd, msg, msg.length, 0x40 | 0x4000);
    if (r < 0) {
      const e = koffi.errno();
      if (e === 11 || e === 105) {
        eagain++;
        const done = (err) => {
          if (err) throw err;
          pump();
        };
        if (WAIT === 'pause') {
          setImmediate(() => {
            Atomics.wait(cell, 0, 0, WAIT_US / 1000);
            pump();
          });
        } else if (WAIT === 'usleep') usleep.async(WAIT_US, done);
        else if (WAIT === 'spin') setImmediate(pump);
        else if (WAIT === 'poll') poll.async(pollfd, 1, 1000, done);
        else throw new Error(`KOFFI_WAIT=${WAIT}: pause, poll, usleep or spin`);
        return;
      }
      throw new Error(`send errno ${e}`);
    }
    msg = null;
    i++;
  }
  close(fd);
  const cpu = process.cpuUsage();
  process.stdout.write(JSON.stringify({ cpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(3), eagain }) + '\n');
}

pump();
