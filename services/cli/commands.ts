import { EXIT_STATUS, type Command } from './command.ts';

export interface Entry {
  /** One word, or a group and a word: `credentials store`. */
  name: string;
  summary: string;
  /** Loaded when run: the operations commands bring the server's store code, the everyday ones only HTTP. */
  load(): Promise<Command>;
}

const everyday: Entry[] = [
  {
    name: 'services',
    summary: 'list the services with a configuration, per environment',
    load: () => import('./read-commands.ts').then((m) => m.services),
  },
  {
    name: 'get',
    summary: 'print a configuration or one key, now or in the past',
    load: () => import('./read-commands.ts').then((m) => m.get),
  },
  { name: 'put', summary: 'set one key', load: () => import('./write-commands.ts').then((m) => m.put) },
  {
    name: 'edit',
    summary: 'edit a configuration in $EDITOR and replace it if nobody changed it meanwhile',
    load: () => import('./edit.ts').then((m) => m.edit),
  },
  {
    name: 'patch',
    summary: 'apply a JSON merge patch',
    load: () => import('./write-commands.ts').then((m) => m.patch),
  },
  {
    name: 'history',
    summary: 'the versions, newest first: who changed what and why',
    load: () => import('./read-commands.ts').then((m) => m.history),
  },
  {
    name: 'diff',
    summary: 'what changed between two versions or instants',
    load: () => import('./read-commands.ts').then((m) => m.diff),
  },
  {
    name: 'rollback',
    summary: 'restore an earlier version as a new one',
    load: () => import('./write-commands.ts').then((m) => m.rollback),
  },
  {
    name: 'promote',
    summary: 'copy a configuration, or some keys, from one environment to another',
    load: () => import('./write-commands.ts').then((m) => m.promote),
  },
  {
    name: 'watch',
    summary: 'print changes as they happen (WebSocket)',
    load: () => import('./watch.ts').then((m) => m.watch),
  },
  {
    name: 'change-requests',
    summary: 'list change requests awaiting or past approval',
    load: () => import('./approval-commands.ts').then((m) => m.changeRequests),
  },
  {
    name: 'approve',
    summary: 'approve a change request',
    load: () => import('./approval-commands.ts').then((m) => m.approve),
  },
  {
    name: 'reject',
    summary: 'reject a change request',
    load: () => import('./approval-commands.ts').then((m) => m.reject),
  },
  {
    name: 'token revoke',
    summary: 'revoke a JWT before it expires, on every instance',
    load: () => import('./revoke.ts').then((m) => m.tokenRevoke),
  },
  {
    name: 'credentials list',
    summary: 'credential metadata, never values',
    load: () => import('./credential-commands.ts').then((m) => m.credentialsList),
  },
  {
    name: 'credentials get',
    summary: "decrypt and print a credential's value",
    load: () => import('./credential-commands.ts').then((m) => m.credentialsGet),
  },
  {
    name: 'credentials store',
    summary: 'store a credential, encrypted',
    load: () => import('./credential-commands.ts').then((m) => m.credentialsStore),
  },
  {
    name: 'credentials rotate',
    summary: 'rotate a credential to a given or generated value',
    load: () => import('./credential-commands.ts').then((m) => m.credentialsRotate),
  },
  {
    name: 'credentials delete',
    summary: 'destroy a credential for good (crypto-shredding)',
    load: () => import('./credential-commands.ts').then((m) => m.credentialsDelete),
  },
];

const operations: Entry[] = [
  {
    name: 'token',
    summary: 'mint a bearer token signed with JWT_SECRET',
    load: () => import('./ops-commands.ts').then((m) => m.token),
  },
  {
    name: 'projections rebuild',
    summary: 'drop every read model and rebuild it from the log (API stopped)',
    load: () => import('./ops-commands.ts').then((m) => m.projectionsRebuild),
  },
  {
    name: 'replay',
    summary: 'rebuild the read models into fresh tables while the service runs (PostgreSQL)',
    load: () => import('./ops-commands.ts').then((m) => m.replay),
  },
  {
    name: 'verify',
    summary: 'recompute the audit hash chain and name every break',
    load: () => import('./ops-commands.ts').then((m) => m.verify),
  },
  {
    name: 'backup',
    summary: 'stream the whole log into a signed, compressed file',
    load: () => import('./backup-commands.ts').then((m) => m.backup),
  },
  {
    name: 'restore',
    summary: 'restore a backup into an empty PostgreSQL store',
    load: () => import('./backup-commands.ts').then((m) => m.restore),
  },
  {
    name: 'restore-keys',
    summary: "put a backup's vault keys in place after a restore without them",
    load: () => import('./backup-commands.ts').then((m) => m.restoreKeysCommand),
  },
];

export const COMMANDS = [...everyday, ...operations];

/** The command the words name: a group's command (`credentials store`) before a single word. */
export function findCommand(words: string[]): { entry: Entry; args: string[] } | undefined {
  const two = COMMANDS.find((entry) => entry.name === `${words[0]} ${words[1]}`);
  if (two) return { entry: two, args: words.slice(2) };
  const one = COMMANDS.find((entry) => entry.name === words[0]);
  return one ? { entry: one, args: words.slice(1) } : undefined;
}

/** `credentials`, `projections`: the words that start commands of their own. */
export const isGroup = (word: string | undefined): boolean =>
  word !== undefined && COMMANDS.some((entry) => entry.name.startsWith(`${word} `));

const listing = (entries: Entry[]) => {
  const width = Math.max(...entries.map((entry) => entry.name.length));
  return entries.map((entry) => `  ${entry.name.padEnd(width)}  ${entry.summary}`).join('\n');
};

export const groupUsage = (group: string): string =>
  `configledger ${group} <command>\n\n${listing(COMMANDS.filter((entry) => entry.name.startsWith(`${group} `)))}\n\nRun configledger ${group} COMMAND --help for its options.\n\n${EXIT_STATUS}`;

export const USAGE = `configledger <command> [options]

Everyday work, over the HTTP API:
${listing(everyday)}

Operations, on the store itself (EVENTSTORE_URL, else DATABASE_URL, else DATA_DIR, default ./data):
${listing(operations)}

The API and the caller: CONFIGLEDGER_URL (e.g. http://127.0.0.1:8011/api/v1) and CONFIGLEDGER_TOKEN, each
winning over the profile file $XDG_CONFIG_HOME/configledger/config.json (default ~/.config/...):
{"url": ..., "token": ...}, or named ones {"profiles": {"NAME": {"url": ..., "token": ...}}} chosen with
--profile NAME (or CONFIGLEDGER_PROFILE). The token is never printed.

Options of every command: --profile NAME, --verbose (stack traces of failures), --help.
Commands that print data take --output json|table (table by default); --env ENV defaults to production.
Every write carries an Idempotency-Key and is retried with it after a network failure, a timeout or a 503.

Run configledger COMMAND --help for a command's options.

${EXIT_STATUS}`;
