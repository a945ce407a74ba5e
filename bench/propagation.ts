/**
 * End-to-end propagation: time from a write's HTTP response until (a) each
 * WebSocket subscriber receives it and (b) the SDK over Kafka applies it; and,
 * in the same run, from an etcd put's response until etcd watchers see it.
 */
import { Worker } from 'node:worker_threads';
import { createConfigClient } from '#services/config-client/index.ts';
import { b64, percentile, round, startConfigledger, startEtcd } from './processes.ts';

const WRITES = Number(process.env.BENCH_PROPAGATION_WRITES ?? 200);
const RATE_PER_SECOND = Number(process.env.BENCH_PROPAGATION_RATE ?? 50);
const SUBSCRIBER_COUNTS = (process.env.BENCH_SUBSCRIBERS ?? '1,100,1000').split(',').map(Number);

export interface Latency {
  p50: number;
  p99: number;
  samples: number;
}

const summarize = (delays: number[]): Latency => {
  const sorted = [...delays].sort((a, b) => a - b);
  return { p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), samples: sorted.length };
};

/** Writes at a steady rate; answers the time each write's response arrived, by its sequence number. */
async function steadyWrites(write: (sequence: number) => Promise<void>): Promise<Map<number, number>> {
  const answered = new Map<number, number>();
  const interval = 1000 / RATE_PER_SECOND;
  const start = performance.now();
  for (let sequence = 1; sequence <= WRITES; sequence++) {
    const due = start + sequence * interval;
    if (due > performance.now()) await new Promise((resolve) => setTimeout(resolve, due - performance.now()));
    await write(sequence);
    answered.set(sequence, now());
  }
  return answered;
}

/** Delay per (receiver, write): arrival minus response, 0 when the push beat the response. */
function delays(answered: Map<number, number>, arrivals: Map<number, number>[]): number[] {
  return arrivals
    .flatMap((arrived) =>
      [...answered].map(([sequence, at]) => Math.max(0, (arrived.get(sequence) ?? Number.NaN) - at)),
    )
    .filter((d) => !Number.isNaN(d));
}

const waitUntil = async (condition: () => boolean, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
};

const WORKERS = 4;

/** `count` subscribers spread over worker threads; arrival times are absolute (timeOrigin-based) milliseconds. */
async function openSubscribers(base: string, token: string, serviceId: string, count: number) {
  const workers = Array.from({ length: Math.min(WORKERS, count) }, (_, index) => {
    const share = Math.floor(count / Math.min(WORKERS, count)) + (index < count % Math.min(WORKERS, count) ? 1 : 0);
    return new Worker(new URL('./subscribers-worker.mjs', import.meta.url), {
      workerData: { base, token, serviceId, count: share },
    });
  });
  const ask = <T>(worker: Worker, type: string, answer: string) =>
    new Promise<T>((resolve) => {
      const listen = (message: { type: string } & T) => {
        if (message.type !== answer) return;
        worker.off('message', listen);
        resolve(message);
      };
      worker.on('message', listen);
      if (type) worker.postMessage({ type });
    });
  await Promise.all(workers.map((worker) => ask(worker, '', 'ready')));
  return {
    async received(): Promise<number> {
      const counts = await Promise.all(
        workers.map((worker) => ask<{ counts: number[] }>(worker, 'received', 'received')),
      );
      return Math.min(...counts.flatMap((answer) => answer.counts));
    },
    async collect(): Promise<Map<number, number>[]> {
      const answers = await Promise.all(
        workers.map((worker) => ask<{ arrivals: [number, number][][] }>(worker, 'collect', 'arrivals')),
      );
      await Promise.all(workers.map((worker) => worker.terminate()));
      return answers.flatMap((answer) => answer.arrivals.map((pairs) => new Map(pairs)));
    },
  };
}

const now = () => performance.timeOrigin + performance.now();

export async function benchPropagation(port: number, etcdPort: number, brokers: string[]) {
  const results: { configledger: Record<string, Latency>; etcd: Record<string, Latency> } = {
    configledger: {},
    etcd: {},
  };
  const service = await startConfigledger(port, { KAFKA_BROKERS: brokers.join(',') });
  try {
    for (const count of SUBSCRIBER_COUNTS) {
      const serviceId = `propagation-${count}-${Date.now()}`;
      await fetch(`${service.base}/configurations/${serviceId}`, {
        method: 'PUT',
        headers: service.headers,
        body: JSON.stringify({ configuration: { sequence: 0 } }),
      });
      const subscribers = await openSubscribers(service.base, service.token, serviceId, count);
      const sdkArrivals = new Map<number, number>();
      const sdk =
        count === SUBSCRIBER_COUNTS[0]
          ? await createConfigClient({ serviceId, environment: 'production', brokers })
          : undefined;
      sdk?.onChange((change) => sdkArrivals.set(change.configuration.sequence as number, now()));
      process.stderr.write(
        `  propagation: ${WRITES} writes at ${RATE_PER_SECOND}/s to ${count} WebSocket subscriber(s)${sdk ? ' and the SDK over Kafka' : ''}...\n`,
      );
      const answered = await steadyWrites(async (sequence) => {
        const response = await fetch(`${service.base}/configurations/${serviceId}/sequence`, {
          method: 'PUT',
          headers: service.headers,
          body: JSON.stringify({ value: sequence }),
        });
        await response.arrayBuffer();
      });
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && ((await subscribers.received()) < WRITES || (sdk && sdkArrivals.size < WRITES))) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      results.configledger[`websocket x${count}`] = summarize(delays(answered, await subscribers.collect()));
      if (sdk) {
        results.configledger['SDK over Kafka'] = summarize(delays(answered, [sdkArrivals]));
        await sdk.close();
      }
    }
  } finally {
    await service.stop();
  }

  const etcd = await startEtcd(etcdPort);
  try {
    for (const count of SUBSCRIBER_COUNTS.filter((n) => n <= 100)) {
      const key = b64(`config/propagation-${count}`);
      const arrivals = await Promise.all(Array.from({ length: count }, () => watchEtcd(etcd.url, key)));
      process.stderr.write(`  propagation: ${WRITES} puts at ${RATE_PER_SECOND}/s to ${count} etcd watcher(s)...\n`);
      const answered = await steadyWrites(async (sequence) => {
        const response = await fetch(`${etcd.url}/v3/kv/put`, {
          method: 'POST',
          body: JSON.stringify({ key, value: b64(JSON.stringify({ sequence })) }),
        });
        await response.arrayBuffer();
      });
      await waitUntil(() => arrivals.every((watch) => watch.arrived.size >= WRITES), 15_000);
      results.etcd[`watch x${count}`] = summarize(
        delays(
          answered,
          arrivals.map((watch) => watch.arrived),
        ),
      );
      for (const watch of arrivals) watch.stop();
    }
  } finally {
    await etcd.stop();
  }
  return results;
}

/** An etcd v3 watch over the JSON gateway: a streamed response of one JSON object per line. */
async function watchEtcd(url: string, key: string) {
  const controller = new AbortController();
  const arrived = new Map<number, number>();
  const response = await fetch(`${url}/v3/watch`, {
    method: 'POST',
    body: JSON.stringify({ create_request: { key } }),
    signal: controller.signal,
  });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  void (async () => {
    let buffered = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffered += decoder.decode(value, { stream: true });
        for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          const parsed = JSON.parse(line) as { result?: { events?: { kv: { value: string } }[] } };
          for (const event of parsed.result?.events ?? []) {
            const { sequence } = JSON.parse(Buffer.from(event.kv.value, 'base64').toString()) as { sequence: number };
            if (!arrived.has(sequence)) arrived.set(sequence, now());
          }
        }
      }
    } catch {
      // aborted when the bench is done with this watcher
    }
  })();
  return { arrived, stop: () => controller.abort() };
}
