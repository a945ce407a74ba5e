/**
 * make bench: configledger on PostgreSQL against etcd on the same machine, same
 * value size, same concurrency. Prints a table and writes bench/results/latest.json.
 */
import autocannon, { type Request } from 'autocannon';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { benchAppends } from './append.ts';
import { b64, percentile, round, startConfigledger, startEtcd } from './processes.ts';
import { benchPropagation } from './propagation.ts';
import { benchHistory } from './history.ts';
import { benchSoak } from './soak.ts';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const SERVICES = 64;
const VISIBILITY_SAMPLES = Number(process.env.BENCH_VISIBILITY_SAMPLES ?? 500);
const API_PORT = 18011;
const ETCD_PORT = 23790;

/** About 256 bytes of JSON, the shape of a small trading-service configuration. */
const documentFor = (i: number) => ({
  risk: { maxPosition: 1_000_000 + i, maxOrderValue: 250_000, killSwitch: false },
  venues: ['XNYS', 'XNAS', 'ARCX'],
  limits: { counter: 0, ordersPerSecond: 500 },
  feed: { depth: 10, conflationMs: 5, endpoint: 'md-feed.internal:9000' },
});
const VALUE_BYTES = JSON.stringify(documentFor(0)).length;

interface Figures {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
}

async function load(url: string, requests: Request[], label: string): Promise<Figures> {
  process.stderr.write(`  ${label} (${DURATION_S}s, ${CONNECTIONS} connections)...\n`);
  const result = await autocannon({ url, connections: CONNECTIONS, duration: DURATION_S, requests });
  return {
    requestsPerSecond: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx + result.timeouts,
  };
}

async function benchConfigledger() {
  const service = await startConfigledger(API_PORT);
  const { base, headers } = service;
  try {
    for (let i = 0; i < SERVICES; i++) {
      const response = await fetch(`${base}/configurations/bench-${i}`, {
        method: 'PUT',
        headers,
        body: JSON.stringify({ configuration: documentFor(i) }),
      });
      if (!response.ok) throw new Error(`seeding failed: ${response.status} ${await response.text()}`);
    }

    let n = 0;
    const get = await load(
      base,
      [
        {
          method: 'GET',
          headers,
          setupRequest: (request) => ({ ...request, path: `/api/v1/configurations/bench-${n++ % SERVICES}` }),
        },
      ],
      'configledger GET',
    );
    const put = await load(
      base,
      [
        {
          method: 'PUT',
          headers,
          setupRequest: (request) => {
            n++;
            return {
              ...request,
              path: `/api/v1/configurations/bench-${n % SERVICES}/limits.counter`,
              body: JSON.stringify({ value: n }),
            };
          },
        },
      ],
      'configledger PUT (one key changed, durable commit)',
    );

    /** Time from each write's response until `readPath(position)` answers with it. */
    const visibilityOf = async (label: string, readPath: (service: string, position: number) => string) => {
      process.stderr.write(`  write -> ${label} (${VISIBILITY_SAMPLES} sequential writes)...\n`);
      const delays: number[] = [];
      for (let i = 0; i < VISIBILITY_SAMPLES; i++) {
        const service = `bench-${i % SERVICES}`;
        const written = await fetch(`${base}/configurations/${service}/limits.counter`, {
          method: 'PUT',
          headers,
          body: JSON.stringify({ value: -i }),
        });
        const { data } = (await written.json()) as { data: { position: number } };
        const answered = performance.now();
        const read = await fetch(`${base}${readPath(service, data.position)}`, { headers });
        await read.arrayBuffer();
        if (!read.ok) throw new Error(`read-your-write failed with ${read.status}`);
        delays.push(performance.now() - answered);
      }
      delays.sort((a, b) => a - b);
      return { p50: round(percentile(delays, 50)), p99: round(percentile(delays, 99)), samples: delays.length };
    };
    const visibility = await visibilityOf(
      'configuration read (cache)',
      (service, position) => `/configurations/${service}?minPosition=${position}`,
    );
    const visibilityDatabase = await visibilityOf(
      'PostgreSQL read model (history)',
      (service, position) => `/configurations/${service}/versions?limit=1&minPosition=${position}`,
    );
    return { get, put, visibility, visibilityDatabase };
  } finally {
    await service.stop();
  }
}

async function benchEtcd() {
  const etcd = await startEtcd(ETCD_PORT);
  const { url } = etcd;
  try {
    for (let i = 0; i < SERVICES; i++) {
      await fetch(`${url}/v3/kv/put`, {
        method: 'POST',
        body: JSON.stringify({ key: b64(`config/bench-${i}`), value: b64(JSON.stringify(documentFor(i))) }),
      });
    }
    let n = 0;
    const get = await load(
      url,
      [
        {
          method: 'POST',
          path: '/v3/kv/range',
          setupRequest: (request) => ({
            ...request,
            body: JSON.stringify({ key: b64(`config/bench-${n++ % SERVICES}`) }),
          }),
        },
      ],
      'etcd range',
    );
    const put = await load(
      url,
      [
        {
          method: 'POST',
          path: '/v3/kv/put',
          setupRequest: (request) => {
            n++;
            const document = { ...documentFor(n % SERVICES), limits: { counter: n, ordersPerSecond: 500 } };
            return {
              ...request,
              body: JSON.stringify({ key: b64(`config/bench-${n % SERVICES}`), value: b64(JSON.stringify(document)) }),
            };
          },
        },
      ],
      'etcd put',
    );
    return { get, put, version: etcd.version };
  } finally {
    await etcd.stop();
  }
}

const ratio = (a: number, b: number) => round(a / b);

process.stderr.write(
  `configledger vs etcd: ${VALUE_BYTES}-byte configuration, ${CONNECTIONS} connections, ${DURATION_S}s per run\n`,
);
process.stderr.write('  event store appends (1 and 32 writers)...\n');
const appends = [await benchAppends(1), await benchAppends(32)];
const ctx = await benchConfigledger();
const etcd = await benchEtcd();
const history = await benchHistory();
const soak = await benchSoak(API_PORT + 200);
const propagation = await benchPropagation(
  API_PORT + 1,
  ETCD_PORT + 100,
  (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
);

const rows = [
  [
    'GET configuration',
    `${ctx.get.requestsPerSecond} req/s`,
    `${ctx.get.p50} / ${ctx.get.p99} ms`,
    `${etcd.get.requestsPerSecond} req/s`,
    `${etcd.get.p50} / ${etcd.get.p99} ms`,
    `${ratio(ctx.get.requestsPerSecond, etcd.get.requestsPerSecond)}x`,
    '>= 2x',
  ],
  [
    'PUT configuration (durable)',
    `${ctx.put.requestsPerSecond} req/s`,
    `${ctx.put.p50} / ${ctx.put.p99} ms`,
    `${etcd.put.requestsPerSecond} req/s`,
    `${etcd.put.p50} / ${etcd.put.p99} ms`,
    `${ratio(ctx.put.requestsPerSecond, etcd.put.requestsPerSecond)}x`,
    '>= 1x',
  ],
  [
    'write -> readable (GET minPosition)',
    '',
    `${ctx.visibility.p50} / ${ctx.visibility.p99} ms`,
    '',
    '(linearizable)',
    '',
    'p99 < 5 ms',
  ],
  [
    'write -> in PostgreSQL read model',
    '',
    `${ctx.visibilityDatabase.p50} / ${ctx.visibilityDatabase.p99} ms`,
    '',
    '',
    '',
    '',
  ],
];
const header = ['measure', 'configledger', 'p50 / p99', 'etcd', 'p50 / p99', 'ratio', 'target'];
const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ');
process.stdout.write(
  `\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${rows.map(line).join('\n')}\n`,
);
process.stdout.write(
  appends
    .map((a) => `event store alone: ${a.appendsPerSecond} appends/s with ${a.writers} writer(s) (group commit)\n`)
    .join(''),
);
process.stdout.write(
  `errors: configledger GET ${ctx.get.errors}, PUT ${ctx.put.errors}; etcd range ${etcd.get.errors}, put ${etcd.put.errors}\n`,
);

const results = {
  at: new Date().toISOString(),
  machine: {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryGiB: round(totalmem() / 2 ** 30),
    node: process.version,
  },
  settings: { durationSeconds: DURATION_S, connections: CONNECTIONS, valueBytes: VALUE_BYTES, services: SERVICES },
  configledger: ctx,
  eventStoreAppends: appends,
  etcd,
  ratios: {
    get: ratio(ctx.get.requestsPerSecond, etcd.get.requestsPerSecond),
    put: ratio(ctx.put.requestsPerSecond, etcd.put.requestsPerSecond),
  },
};
const propagationRows = [
  ...Object.entries(propagation.configledger).map(([path, l]) => [
    `configledger ${path}`,
    `${l.p50} / ${l.p99} ms`,
    String(l.samples),
  ]),
  ...Object.entries(propagation.etcd).map(([path, l]) => [`etcd ${path}`, `${l.p50} / ${l.p99} ms`, String(l.samples)]),
];
const propagationHeader = ['write response -> receiver', 'p50 / p99', 'samples'];
const propagationWidths = propagationHeader.map((title, column) =>
  Math.max(title.length, ...propagationRows.map((row) => row[column]!.length)),
);
const propagationLine = (cells: string[]) =>
  cells.map((cell, column) => cell.padEnd(propagationWidths[column]!)).join('  ');
process.stdout.write(
  `\n${propagationLine(propagationHeader)}\n${propagationWidths.map((w) => '-'.repeat(w)).join('  ')}\n${propagationRows.map(propagationLine).join('\n')}\n`,
);
(results as Record<string, unknown>).propagation = propagation;
(results as Record<string, unknown>).history = history;
(results as Record<string, unknown>).soak = soak;
process.stdout.write(
  `\nsoak ${soak.soak.seconds}s, ${soak.soak.writers} writers on ${soak.soak.services} services (${soak.soak.faults.join(', ')}): ` +
    `${soak.soak.commands} commands, ${soak.soak.acknowledged} acknowledged (${soak.soak.writesPerSecond}/s), ${soak.soak.retried} retried; answers ${JSON.stringify(soak.soak.answers)}\n` +
    `  ${Object.entries(soak.soak.counts)
      .map(([name, count]) => `${name} ${count}`)
      .join(', ')}\n` +
    `RSS with ${soak.memory.configurations} configurations ${soak.memory.residentMiB} MiB\n`,
);
process.stdout.write(
  `\nlog of ${history.logEvents} events over ${history.configurations} configurations:\n` +
    `  build ${history.build.appendsPerSecond} appends/s; rebuild ${history.rebuild.eventsPerSecond} events/s (target 100,000) peak RSS ${history.rebuild.peakRssMiB} MiB\n` +
    `  backup ${history.backup.eventsPerSecond} events/s (${Math.round(history.backup.bytes / 1024)} KiB) peak ${history.backup.peakRssMiB} MiB; ` +
    `restore ${history.restore.eventsPerSecond} events/s peak ${history.restore.peakRssMiB} MiB\n` +
    `  asOf on ${history.asOf.versions} versions: p50 ${history.asOf.p50} ms, p99 ${history.asOf.p99} ms (target under 50 ms)\n`,
);
writeFileSync('bench/results/latest.json', `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write('wrote bench/results/latest.json\n');
