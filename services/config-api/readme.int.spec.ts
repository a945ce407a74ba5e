import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { freePort, startServiceProcess } from '#testing/service-process.ts';

const run = promisify(execFile);

/** The README's shell blocks marked `<!-- walkthrough -->`, in order. */
function walkthroughBlocks(): string[] {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  return [...readme.matchAll(/<!-- walkthrough -->\n```sh\n([\s\S]*?)```/g)].map((match) => match[1]!);
}

describe('the README, as a newcomer runs it', () => {
  it('runs every walkthrough step as written against a fresh service (only the port and data directory differ), each answered 2xx', async () => {
    const blocks = walkthroughBlocks();
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    const dataDir = mkdtempSync(join(tmpdir(), 'configledger-readme-'));
    const port = await freePort();
    const service = await startServiceProcess({ DATA_DIR: dataDir, PORT: String(port) });
    try {
      const script = blocks
        .join('\n')
        .replaceAll('127.0.0.1:8011', `127.0.0.1:${port}`)
        .replaceAll('data/secrets/admin-token', join(dataDir, 'secrets', 'admin-token'));
      // Every curl fails the walkthrough on an answer of 400 or more, and prints what it got.
      const prelude = 'set -euo pipefail\ncurl() { command curl --fail-with-body "$@"; echo; }\n';
      const { stdout } = await run('bash', ['-c', prelude + script], { timeout: 60_000 });
      const answers = stdout.split('\n').filter((line) => line.startsWith('{'));
      expect(answers.length).toBeGreaterThanOrEqual(10);
      for (const answer of answers) expect(JSON.parse(answer)).toMatchObject({ success: true });
      // The steps do what the README says they do.
      expect(stdout).toContain('"version":3');
      expect(stdout).toContain('"value":"s3cret-pw"');
    } finally {
      await service.stop();
    }
  }, 90_000);
});
