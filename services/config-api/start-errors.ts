import { DataDirectoryInUse } from '#infra/postgres/data-dir-lock.ts';

const codeOf = (error: unknown) => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
};
const causeOf = (error: unknown): unknown => (error instanceof Error && error.cause ? error.cause : error);

/** Host, port and database name of a PostgreSQL URL, for messages (never its password). */
function target(url: string | undefined) {
  if (!url) return undefined;
  try {
    const parsed = new URL(url);
    return {
      host: parsed.hostname || '127.0.0.1',
      port: parsed.port || '5432',
      user: decodeURIComponent(parsed.username) || 'postgres',
      database: decodeURIComponent(parsed.pathname.slice(1)) || 'postgres',
    };
  } catch {
    return undefined;
  }
}

/**
 * What a person starting the service (or the CLI) needs to read when the
 * start fails for a reason outside the code: what is wrong and the command
 * that fixes it. Undefined for anything else (then the error is a bug).
 */
export function explainStartFailure(
  error: unknown,
  where: { databaseUrl?: string; port?: number; dataDir?: string },
): string | undefined {
  if (error instanceof DataDirectoryInUse) return error.message;
  const cause = causeOf(error);
  const code = codeOf(cause) ?? codeOf(error);
  const db = target(where.databaseUrl);
  if (code === '3D000' && db) {
    return `the database "${db.database}" does not exist on ${db.host}:${db.port}: create it with\n  createdb -h ${db.host} -p ${db.port} -U ${db.user} ${db.database}\nand start again`;
  }
  if ((code === '28P01' || code === '28000') && db) {
    return `PostgreSQL at ${db.host}:${db.port} refused the user "${db.user}": check the user and password in DATABASE_URL`;
  }
  if (code === 'ECONNREFUSED' && db)
    return `nothing answers at ${db.host}:${db.port}: is PostgreSQL running there (DATABASE_URL)?`;
  if ((code === 'ENOTFOUND' || code === 'EAI_AGAIN') && db)
    return `the host "${db.host}" of DATABASE_URL cannot be resolved`;
  if (code === 'EADDRINUSE') return `port ${where.port} is already in use: stop what listens there, or set PORT`;
  if (code === 'EACCES' && where.dataDir)
    return `cannot write to ${where.dataDir}: ${error instanceof Error ? error.message : String(error)} (set DATA_DIR)`;
  return undefined;
}
