/**
 * The soak: writes to every service under a cut, a stall and connection
 * resets, with client retries, each write accounted for against the log and
 * the read models (see soak-writes.ts; every count must be 0); and resident
 * memory with 10,000 configurations loaded.
 *   node --import tsx bench/soak.ts     (BENCH_SOAK_SECONDS, default 60)
 */
import { type SoakReport, soakWrites } from './soak-writes.ts';
import { startConfigledger } from './processes.ts';

const SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? 60);

async function memoryWithConfigurations(port: number, count: number) {
  const service = await startConfigledger(port);
  try {
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        for (let i = next++; i < count; i = next++) {
          await fetch(`${service.base}/configurations/mem-${i}`, {
            method: 'PUT',
            headers: service.headers,
            body: JSON.stringify({
              configuration: { risk: { limit: i }, venues: ['XNYS', 'XNAS'], feed: { depth: 10 } },
            }),
          });
        }
      }),
    );
    for (let i = 0; i < count; i++)
      await (await fetch(`${service.base}/configurations/mem-${i}`, { headers: service.headers })).arrayBuffer();
    const metrics = await (await fetch(service.base.replace('/api/v1', '/metrics'))).text();
    const rss = Number(/^process_resident_memory_bytes (\d+)/m.exec(metrics)?.[1] ?? 0);
    return { configurations: count, residentMiB: Math.round(rss / 2 ** 20) };
  } finally {
    await service.stop();
  }
}

export async function benchSoak(
  port: number,
): Promise<{ soak: SoakReport; memory: { configurations: number; residentMiB: number } }> {
  process.stderr.write(`  soak: ${SECONDS}s of writes to 50 services with the database cut, stalled and reset...\n`);
  const soak = await soakWrites({ port, seconds: SECONDS, services: 50, writers: 16, attempts: 8 });
  process.stderr.write('  soak: resident memory with 10,000 configurations...\n');
  const memory = await memoryWithConfigurations(port + 1, 10_000);
  return { soak, memory };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await benchSoak(18211);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  if (Object.values(result.soak.counts).some((count) => count > 0)) process.exitCode = 1;
}
