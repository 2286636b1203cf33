/** The real systemd-journald the journald end-to-end tests send to (no systemd as PID 1 here). */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const JOURNALD = '/lib/systemd/systemd-journald';
export const JOURNAL_SOCKET = '/run/systemd/journal/socket';

/** Starts the default systemd-journald unless one serves /run/systemd/journal/socket already. */
export async function ensureJournald(): Promise<void> {
  // A lock file: test files that both need journald may run in the same CI run.
  const script = `
    set -e
    exec 9>/run/logfan-test-journald.lock
    flock -w 120 9
    if ! pgrep -xf ${JOURNALD} >/dev/null || [ ! -S ${JOURNAL_SOCKET} ]; then
      setsid ${JOURNALD} </dev/null >/dev/null 2>&1 9>&- &
    fi
    for i in $(seq 1 300); do
      if [ -S ${JOURNAL_SOCKET} ] && pgrep -xf ${JOURNALD} >/dev/null; then exit 0; fi
      sleep 0.1
    done
    echo "systemd-journald did not come up (${JOURNAL_SOCKET} missing)" >&2
    exit 1
  `;
  await run('bash', ['-c', script]);
}
