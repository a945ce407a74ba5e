import { type JsonObject, type ValueChange, diffDocuments, getPath } from './documents.ts';

/** A complete effective configuration as the service publishes it. */
export interface Snapshot {
  /** The environment's own version (0 when it only inherits). */
  version: number;
  /** The effective position: updates apply in (epoch, position) order, once. */
  position: number;
  /** The log's epoch (0, or absent, for a log never restored): a restored log's positions restart, its epoch is higher. */
  epoch?: number;
  /** SHA-256 of the canonical JSON of `configuration`, as every road reports it. */
  checksum: string;
  configuration: JsonObject;
}

export interface ConfigChange {
  version: number;
  previousVersion: number;
  position: number;
  changedKeys: string[];
  changes: ValueChange[];
  configuration: JsonObject;
}

export type ChangeListener = (change: ConfigChange) => void;

/**
 * The client's in-memory copy. Every source hands it whole snapshots; one that
 * is not newer (by log position) than what is held is ignored, so redelivery
 * after a broker restart or a reconnect never applies an update twice.
 */
export class LocalConfiguration {
  private current: Required<Snapshot> = { version: 0, position: 0, epoch: 0, checksum: '', configuration: {} };
  private readonly listeners = new Set<ChangeListener>();

  get version(): number {
    return this.current.version;
  }

  get position(): number {
    return this.current.position;
  }

  get epoch(): number {
    return this.current.epoch;
  }

  get checksum(): string {
    return this.current.checksum;
  }

  getAll(): JsonObject {
    return structuredClone(this.current.configuration);
  }

  /** The value at a dotted key when it has the fallback's type, else the fallback. */
  get<T>(key: string, fallback: T): T {
    const value = getPath(this.current.configuration, key);
    if (value === undefined || value === null) return fallback;
    if (fallback !== null && fallback !== undefined) {
      const expected = Array.isArray(fallback) ? 'array' : typeof fallback;
      const actual = Array.isArray(value) ? 'array' : typeof value;
      if (expected !== actual) return fallback;
    }
    return structuredClone(value) as T;
  }

  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Applies the snapshot if it is newer; answers whether it did. */
  offer(snapshot: Snapshot): boolean {
    const epoch = snapshot.epoch ?? 0;
    // Newer means a later epoch, or a later position within the same one.
    if (epoch < this.current.epoch || (epoch === this.current.epoch && snapshot.position <= this.current.position))
      return false;
    const previous = this.current;
    this.current = {
      version: snapshot.version,
      position: snapshot.position,
      epoch,
      checksum: snapshot.checksum,
      configuration: snapshot.configuration,
    };
    const changes = diffDocuments(previous.configuration, snapshot.configuration);
    if (changes.length === 0 && (previous.position !== 0 || previous.epoch !== 0)) return true;
    const change: ConfigChange = {
      version: snapshot.version,
      previousVersion: previous.version,
      position: snapshot.position,
      changedKeys: changes.map((c) => c.path),
      changes,
      configuration: structuredClone(snapshot.configuration),
    };
    for (const listener of this.listeners) listener(change);
    return true;
  }
}
