// journald's ingest ceiling for one client (bench/sinks-syslog-journald.mjs), in Node with
// node-unix-socket's DgramSocket (what logfan's journald sink used before its koffi send path).
//
//   node bench/journald-ceiling.mjs N CONTAINER_ID_FULL PREFIX IMAGE SOCKET
//
// Sends N native-protocol datagrams (the fields Docker's journald driver sends; MESSAGE is PREFIX +
// the line number) from one socket: each sendTo that completes at once is followed by the next; on
// EAGAIN the addon keeps the datagram and retries it when it polls writable, and the next one waits
// for that callback. Prints {"cpuSeconds":…,"eagain":…} on stdout at the end.
import { DgramSocket } from 'node-unix-socket';

const [n, idf, prefix, image, path] = [Number(process.argv[2]), process.argv[3], process.argv[4], process.argv[5], process.argv[6]];
const id12 = idf.slice(0, 12);
const tail = `CONTAINER_ID=${id12}\nCONTAINER_ID_FULL=${idf}\nCONTAINER_NAME=bench-ceiling\nCONTAINER_TAG=${id12}\nIMAGE_NAME=${image}\nSYSLOG_IDENTIFIER=${id12}\n`;
const socket = new DgramSocket();
socket.on('error', (err) => {
  console.error(err);
  process.exit(1);
});
let i = 1;
let eagain = 0;
let inSend = false;
let sentSync = false;

function onSent(err) {
  if (err) {
    console.error(err);
    process.exit(1);
  }
  if (inSend) sentSync = true;
  else pump();
}

function pump() {
  while (i <= n) {
    const msg = Buffer.from(`PRIORITY=6\nMESSAGE=${prefix}${i}\n${tail}`);
    i++;
    inSend = true;
    sentSync = false;
    socket.sendTo(msg, 0, msg.length, path, onSent);
    inSend = false;
    if (!sentSync) {
      eagain++;
      return; // the addon calls onSent once it got the datagram out
    }
  }
  socket.close();
  const cpu = process.cpuUsage();
  process.stdout.write(JSON.stringify({ cpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(3), eagain }) + '\n');
}

pump();
