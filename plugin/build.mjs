#!/usr/bin/env node
// Builds the managed plugin folder (config.json + rootfs) without an image registry: the rootfs is
// assembled from this machine's Node runtime, the shared libraries it links, the production
// node_modules and dist/. With --install it replaces and enables the plugin in the local Docker.
//
//   node plugin/build.mjs [--install] [--name logfan] [--data-root /var/lib/logfan] [--out plugin/build]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const repo = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    install: { type: 'boolean', default: false },
    name: { type: 'string', default: 'logfan' },
    'data-root': { type: 'string', default: '/var/lib/logfan' },
    out: { type: 'string', default: path.join(repo, 'plugin/build') },
    timeout: { type: 'string', default: '0' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(`usage: node plugin/build.mjs [--install] [--name logfan] [--data-root /var/lib/logfan] [--out plugin/build] [--timeout 0]
  --install     replace and enable the plugin in the local Docker (docker plugin create + enable)
  --name        plugin name, which is also the log driver name
  --data-root   host directory bind-mounted as the plugin's data root (created if missing)
  --timeout     docker plugin enable --timeout, in seconds; 0 means no timeout on plugin calls
`);
  process.exit(0);
}

const say = (msg) => process.stderr.write(`plugin: ${msg}\n`);
const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });

if (!fs.existsSync(path.join(repo, 'dist/cli.js'))) {
  say('dist/cli.js is missing: run npm run build first');
  process.exit(1);
}

const bundle = path.join(values.out, values.name);
const rootfs = path.join(bundle, 'rootfs');
fs.rmSync(bundle, { recursive: true, force: true });
fs.mkdirSync(rootfs, { recursive: true });

function copyInto(src, destRel = src) {
  const dest = path.join(rootfs, destRel);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.cpSync(src, dest, { dereference: true, recursive: true });
}

// The Node runtime and every shared library it (and the koffi addon) loads.
const node = fs.realpathSync(process.execPath);
copyInto(node, '/usr/bin/node');
const libs = new Set();
for (const line of sh('ldd', [node]).split('\n')) {
  const m = /(\/\S+) \(0x/.exec(line);
  if (m) libs.add(m[1]);
}
for (const lib of libs) {
  copyInto(lib);
  const real = fs.realpathSync(lib);
  if (real !== lib) copyInto(real);
}
if (fs.existsSync('/etc/ld.so.cache')) copyInto('/etc/ld.so.cache');

// The app: dist/, package.json and the production dependency tree only.
copyInto(path.join(repo, 'dist'), '/app/dist');
copyInto(path.join(repo, 'package.json'), '/app/package.json');
const prodPaths = sh('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: repo })
  .split('\n')
  .filter((p) => p.startsWith(path.join(repo, 'node_modules') + path.sep));
for (const p of prodPaths) copyInto(p, path.join('/app', path.relative(repo, p)));

for (const dir of ['/run/docker/plugins', '/run/docker/logging', '/var/lib/logfan', '/tmp', '/etc']) {
  fs.mkdirSync(path.join(rootfs, dir), { recursive: true });
}
fs.chmodSync(path.join(rootfs, 'tmp'), 0o1777);
fs.copyFileSync(path.join(repo, 'config.json'), path.join(bundle, 'config.json'));
say(`built ${bundle} (${prodPaths.length} packages)`);

if (values.install) {
  const name = values.name;
  const existing = sh('docker', ['plugin', 'ls', '--format', '{{.Name}}']).split('\n');
  if (existing.includes(`${name}:latest`)) {
    say(`removing the installed ${name}`);
    try {
      sh('docker', ['plugin', 'disable', '-f', name]);
    } catch {
      // already disabled
    }
    sh('docker', ['plugin', 'rm', '-f', name]);
  }
  fs.mkdirSync(values['data-root'], { recursive: true, mode: 0o750 });
  // Bind-mount sources must exist at enable time: journald's socket directory appears only where
  // journald runs; an empty one is harmless (sinks=journald then reports journald as down).
  fs.mkdirSync('/run/systemd/journal', { recursive: true });
  say(`docker plugin create ${name}`);
  sh('docker', ['plugin', 'create', name, bundle]);
  if (values['data-root'] !== '/var/lib/logfan') sh('docker', ['plugin', 'set', name, `data-root.source=${values['data-root']}`]);
  sh('docker', ['plugin', 'enable', '--timeout', values.timeout, name]);
  say(`enabled: docker run --log-driver=${name} ...  (logs in ${values['data-root']}/containers/<id>/)`);
}
