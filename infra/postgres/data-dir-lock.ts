import { hostname } from 'node:os';
import { join } from 'node:path';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';

/** Another process holds the embedded store's data directory. */
export class DataDirectoryInUse extends Error {
  override readonly name = 'DataDirectoryInUse';
}

interface Holder {
  pid: number;
  host: string;
  command: string;
  since: string;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * The embedded store is for one process: two that write the same files lose
 * acknowledged writes. The lock is a directory (created atomically) naming its
 * holder; a holder that is no longer running (killed, even with -9) leaves a
 * lock the next start takes over. Released when the store closes or the
 * process exits.
 */
export function lockDataDirectory(directory: string): { release(): void } {
  mkdirSync(directory, { recursive: true });
  // Beside the directory, not in it: the store's own files stay its own.
  const lock = `${directory}.lock`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      mkdirSync(lock);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let holder: Holder | undefined;
      try {
        holder = JSON.parse(readFileSync(join(lock, 'holder.json'), 'utf8')) as Holder;
      } catch {
        // Being written by a process that just took it, or left empty by one that died doing so.
      }
      if (holder && holder.host === hostname() && alive(holder.pid)) {
        throw new DataDirectoryInUse(
          `${directory} is in use by process ${holder.pid} (${holder.command}, since ${holder.since}): the embedded store serves one process. ` +
            'Stop it first, or work through its API.',
        );
      }
      if (!holder && attempt === 0) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
        continue;
      }
      // A lock whose holder is gone: moved aside whole, so two starters cannot both take it.
      const stale = `${lock}.stale-${process.pid}-${Date.now()}`;
      try {
        renameSync(lock, stale);
        rmSync(stale, { recursive: true, force: true });
      } catch {
        // Another starter moved it first; the next attempt sees who holds it now.
      }
      continue;
    }
    writeFileSync(
      join(lock, 'holder.json'),
      JSON.stringify({
        pid: process.pid,
        host: hostname(),
        command: process.argv.slice(1).join(' '),
        since: new Date().toISOString(),
      } satisfies Holder),
    );
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      rmSync(lock, { recursive: true, force: true });
      process.off('exit', release);
    };
    process.on('exit', release);
    return { release };
  }
  throw new DataDirectoryInUse(`${directory} could not be locked: another process keeps taking it`);
}
