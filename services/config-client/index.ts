import type { JsonObject } from './documents.ts';
import { followKafka } from './kafka-source.ts';
import { type ChangeListener, LocalConfiguration } from './local-state.ts';
import { followWebSocket } from './websocket-source.ts';

export type { ConfigChange, ChangeListener } from './local-state.ts';

export interface ConfigClientOptions {
  serviceId: string;
  environment: string;
  /** Kafka brokers: bootstrap from and follow the compacted config-state topic. */
  brokers?: string[];
  /** The API base, e.g. http://127.0.0.1:8011/api/v1: bootstrap over HTTP and follow the WebSocket push. */
  url?: string;
  /** A JWT or a service token that may read the configuration (WebSocket mode). */
  token?: string;
  /** How long the Kafka bootstrap may read before answering with what it has. */
  bootstrapTimeoutMs?: number;
}

export interface ConfigClient {
  /** The environment's own version of the copy held (0 before any configuration exists). */
  readonly version: number;
  /** The effective position of the copy held. */
  readonly position: number;
  /** The epoch of the log the copy came from: updates apply in (epoch, position) order. */
  readonly epoch: number;
  /** The checksum of the copy held, as HTTP and the state topic report it. */
  readonly checksum: string;
  get<T>(key: string, fallback: T): T;
  getAll(): JsonObject;
  onChange(listener: ChangeListener): () => void;
  /**
   * Called when the client stops following changes for good (its token was
   * refused, revoked or expired): it keeps answering with the last copy held.
   */
  onFailure(listener: (error: Error) => void): () => void;
  /** Why the client stopped following changes, if it did. */
  readonly failure: Error | undefined;
  close(): Promise<void>;
}

/** A local, always-current copy of one service's effective configuration. Resolves once bootstrapped. */
export async function createConfigClient(options: ConfigClientOptions): Promise<ConfigClient> {
  const state = new LocalConfiguration();
  const failureListeners = new Set<(error: Error) => void>();
  let failure: Error | undefined;
  const fail = (error: Error) => {
    failure = error;
    for (const listener of failureListeners) listener(error);
  };
  let source: { close(): Promise<void> };
  if (options.brokers?.length) {
    source = await followKafka(
      options.brokers,
      `${options.serviceId}/${options.environment}`,
      state,
      options.bootstrapTimeoutMs ?? 15_000,
    );
  } else if (options.url && options.token) {
    source = await followWebSocket(
      {
        url: options.url.replace(/\/$/, ''),
        token: options.token,
        serviceId: options.serviceId,
        environment: options.environment,
      },
      state,
      fail,
    );
  } else {
    throw new Error('createConfigClient needs brokers, or url and token');
  }
  return {
    get version() {
      return state.version;
    },
    get position() {
      return state.position;
    },
    get epoch() {
      return state.epoch;
    },
    get checksum() {
      return state.checksum;
    },
    get: (key, fallback) => state.get(key, fallback),
    getAll: () => state.getAll(),
    onChange: (listener) => state.onChange(listener),
    onFailure(listener) {
      failureListeners.add(listener);
      return () => failureListeners.delete(listener);
    },
    get failure() {
      return failure;
    },
    close: () => source.close(),
  };
}
