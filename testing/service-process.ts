import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });

export interface ServiceProcess {
  child: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  readonly output: string;
  /** SIGTERM; resolves with the exit code and how long the exit took. */
  stop(): Promise<{ code: number | null; ms: number }>;
}

/** Starts the real entry point, as `make run` does, and resolves once it listens. */
export function startServiceProcess(env: Record<string, string>): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/config-api/main.ts'], {
    env: {
      ...process.env,
      DATABASE_URL: '',
      EVENTSTORE_URL: '',
      JWT_SECRET: '',
      KAFKA_BROKERS: '',
      LOG_LEVEL: 'warn',
      // Its secrets in a directory of its own, never the checkout's ./data.
      DATA_DIR: mkdtempSync(join(tmpdir(), 'configledger-process-')),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => (output += chunk.toString());
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const service: ServiceProcess = {
    child,
    get output() {
      return output;
    },
    async stop() {
      const started = performance.now();
      child.kill('SIGTERM');
      const code = await exited;
      return { code, ms: performance.now() - started };
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`service did not start:\n${output}`)), 30_000);
    const ready = () => {
      if (!/listening on/.test(output)) return;
      clearTimeout(timer);
      child.stdout!.off('data', ready);
      resolve(service);
    };
    child.stdout!.on('data', ready);
    void exited.then((code) => reject(new Error(`service exited with ${code}:\n${output}`)));
  });
}
