import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { JsonObject } from '#events/metadata.ts';
import { diffDocuments, isObject } from '#events/paths.ts';
import { type Command, ENV, EXIT, Failed, OUTPUT, environmentId, outputFormat, parse, serviceId } from './command.ts';
import { ApiError, type ApiClient, path } from './http-client.ts';
import { type ChangeRequestOpened, describeChange, note, reportWrite, type WriteAnswer, write } from './output.ts';
import { sendable } from './write-commands.ts';

interface OwnLayer {
  configuration: JsonObject;
  version: number;
  inheritedFrom: string[];
}

/** The environment's own layer (what PUT replaces) and its version; an absent configuration is empty, version 0. */
async function readOwnLayer(api: ApiClient, service: string, environment: string): Promise<OwnLayer> {
  try {
    const view = await api.read<{
      version: number;
      own: { configuration: JsonObject } | null;
      inheritedFrom?: string[];
    }>(path`/configurations/${service}`, { environment });
    return {
      configuration: view.own?.configuration ?? {},
      version: view.version,
      inheritedFrom: view.inheritedFrom ?? [],
    };
  } catch (error) {
    if (error instanceof ApiError && error.code === 'CONFIGURATION_NOT_FOUND')
      return { configuration: {}, version: 0, inheritedFrom: [] };
    throw error;
  }
}

/** `$VISUAL`, else `$EDITOR`, else vi; run by the shell (as git does), so `code --wait` works. */
function runEditor(file: string): void {
  const editor = process.env.VISUAL || process.env.EDITOR || 'vi';
  const result = spawnSync('sh', ['-c', `${editor} "$@"`, editor, file], { stdio: 'inherit' });
  if (result.error) throw new Failed(`cannot run the editor ${editor}: ${result.error.message}`);
  if (result.status !== 0)
    throw new Failed(`the editor ${editor} exited with status ${result.status ?? result.signal}; nothing was sent`);
}

function readEdited(file: string): JsonObject {
  let edited: unknown;
  try {
    edited = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Failed(
      `the edited file is not JSON (${(error as Error).message}); nothing was sent, it is kept at ${file}`,
    );
  }
  if (!isObject(edited))
    throw new Failed(`the edited file must hold a JSON object; nothing was sent, it is kept at ${file}`);
  try {
    return sendable(edited, 'the edited document');
  } catch (error) {
    throw new Failed(`${(error as Error).message}; nothing was sent, it is kept at ${file}`);
  }
}

async function confirmed(question: string): Promise<boolean> {
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  const closed = new Promise<string>((resolve) => prompt.once('close', () => resolve('')));
  try {
    const answer = await Promise.race([prompt.question(question), closed]);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    prompt.close();
  }
}

export const edit: Command = {
  usage: `configledger edit SERVICE [--env ENV] [--reason TEXT] [--yes] [--output json|table]

Open SERVICE's configuration in an environment (its own layer, what the environment sets itself) in
$VISUAL, else $EDITOR, else vi; show every path changed, ask "apply? [y/N]" (unless --yes), and replace
the configuration with the edited one only if nobody changed it since it was read (If-Match). Someone
else's change in between is refused with VERSION_CONFLICT (exit 1), and the edited file is kept.`,
  async run(args, session) {
    const { values, positionals } = parse(
      args,
      { ...OUTPUT, ...ENV, reason: { type: 'string' }, yes: { type: 'boolean' } },
      { min: 1 },
    );
    const output = outputFormat(values.output);
    const service = serviceId(positionals[0]!);
    const environment = environmentId(values.env);
    const api = session.api();
    const before = await readOwnLayer(api, service, environment);
    if (before.inheritedFrom.length > 0)
      note(`editing ${environment}'s own layer; what it inherits from ${before.inheritedFrom.join(', ')} is not shown`);

    const directory = mkdtempSync(join(tmpdir(), 'configledger-edit-'));
    const file = join(directory, `${service}.${environment}.json`);
    let keep = false;
    try {
      writeFileSync(file, `${JSON.stringify(before.configuration, null, 2)}\n`, { mode: 0o600 });
      runEditor(file);
      keep = true;
      const after = readEdited(file);
      const changes = diffDocuments(before.configuration, after);
      if (changes.length === 0) {
        keep = false;
        note('no changes; nothing was sent');
        return EXIT.done;
      }
      const show = output === 'json' ? note : write;
      show(`${service} in ${environment}, from version ${before.version}:`);
      for (const change of changes) show(describeChange(change));
      if (!values.yes && !(await confirmed('apply? [y/N] '))) {
        keep = false;
        note('not applied');
        return EXIT.failed;
      }
      const answer = await api
        .write<WriteAnswer | ChangeRequestOpened>('PUT', path`/configurations/${service}`, {
          query: { environment },
          body: { configuration: after, changeReason: values.reason },
          ifMatch: before.version,
        })
        .catch((error: unknown) => {
          if (error instanceof ApiError && error.code === 'VERSION_CONFLICT')
            throw new ApiError(
              error.status,
              error.code,
              `someone else changed ${service} in ${environment} since version ${before.version} was read (${error.message}); your edit is kept at ${file}: run edit again and redo it`,
              error.details,
            );
          if (error instanceof ApiError) note(`your edit is kept at ${file}`);
          throw error;
        });
      keep = false;
      return reportWrite(answer, output);
    } finally {
      if (!keep) rmSync(directory, { recursive: true, force: true });
    }
  },
};
