import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { freePort } from '#testing/service-process.ts';
import { startTestServer } from '#testing/server.ts';
import { waitFor } from '#testing/wait.ts';

class Lines extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void) {
    this.lines.push(...chunk.toString().split('\n').filter(Boolean));
    done();
  }
}

describe('the log, for the people who read it', () => {
  it('writes one line per answered request with method, path, status and who asked, and leaves health probes out at info', async () => {
    const log = new Lines();
    const server = await startTestServer({ logStream: log });
    try {
      const token = await server.token('reader-1', ['reader']);
      for (let i = 0; i < 3; i++) await server.call('GET', '/health');
      await server.call('GET', '/environments', { token });
      await waitFor(
        () => log.lines.some((line) => line.includes('GET /api/v1/environments 200')),
        5000,
        'the request line',
      );
      const requests = log.lines.map((line) => JSON.parse(line) as { msg: string; user?: string; level: number });
      const about = requests.filter((line) => line.msg.includes('/api/v1/environments'));
      expect(about).toEqual([
        expect.objectContaining({ msg: 'GET /api/v1/environments 200', user: 'reader-1', level: 30 }),
      ]);
      expect(requests.filter((line) => line.msg.includes('/health'))).toEqual([]);
      expect(requests.filter((line) => /incoming request|request completed/.test(line.msg))).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('prints readable lines on a terminal (pino-pretty), not JSON', async () => {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'configledger-pretty-'));
    // `script` gives the service a terminal, as make run at a prompt does.
    const child = spawn(
      'script',
      ['-q', '-c', `${process.execPath} --import tsx services/config-api/main.ts`, '/dev/null'],
      {
        env: {
          ...process.env,
          DATA_DIR: dataDir,
          PORT: String(port),
          DATABASE_URL: '',
          EVENTSTORE_URL: '',
          JWT_SECRET: '',
          KAFKA_BROKERS: '',
        },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await waitFor(() => output.includes('CONFIGLEDGER_TOKEN'), 30_000, 'the service to start');
      await fetch(`http://127.0.0.1:${port}/api/v1/environments`);
      await waitFor(() => output.includes('GET /api/v1/environments 401'), 10_000, 'the request line');
      const line = output.split('\n').find((text) => text.includes('GET /api/v1/environments 401'))!;
      expect(line).toMatch(/INFO/);
      expect(line).not.toContain('{"level"');
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }, 60_000);
});
