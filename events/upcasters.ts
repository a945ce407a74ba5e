/**
 * Lifts event data one schema version up: `Type@N` takes version N to N + 1.
 * Every place events are read (the store, the Kafka topic) goes through these,
 * so no code downstream ever sees an old shape.
 */
export const UPCASTERS: Record<string, (data: Record<string, unknown>) => Record<string, unknown>> = {
  // Version 1 recorded no impact; version 2's is optional, so the data reads as it is.
  'EnvironmentUpdated@1': (data) => data,
  // Version 2 adds the optional `forced`: a version 1 change was never forced.
  'ConfigurationCreated@1': (data) => data,
  'ConfigurationUpdated@1': (data) => data,
  'ConfigurationRolledBack@1': (data) => data,
};
