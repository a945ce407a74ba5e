import { EXIT, EXIT_STATUS, ConfigurationError, Failed, type Session, UsageError } from './command.ts';
import { USAGE, findCommand, groupUsage, isGroup } from './commands.ts';
import { ApiError, type ApiClient, createApiClient } from './http-client.ts';
import { resolveConnection } from './profile.ts';

/** `--verbose` and `--profile NAME` may stand anywhere before `--`; they are taken out before the command parses. */
function globalOptions(argv: string[]) {
  const words: string[] = [];
  let verbose = false;
  let profile: string | undefined;
  for (let index = 0; index < argv.length; index++) {
    const word = argv[index]!;
    if (word === '--') {
      words.push(...argv.slice(index));
      break;
    }
    if (word === '--verbose') verbose = true;
    else if (word.startsWith('--profile=')) profile = word.slice('--profile='.length);
    else if (word === '--profile') {
      profile = argv[++index];
      if (profile === undefined || profile.startsWith('-')) throw new UsageError('--profile needs a NAME');
    } else words.push(word);
  }
  return { words, verbose, profile };
}

const asksForHelp = (args: string[]) => {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
};

/** `help [COMMAND]`, `--help`: the overview, a group's commands, or one command's usage. */
async function help(topic: string[]): Promise<string> {
  if (topic.length === 0) return USAGE;
  const found = findCommand(topic);
  if (found) return `${(await found.entry.load()).usage}\n\n${EXIT_STATUS}`;
  if (isGroup(topic[0])) return groupUsage(topic[0]!);
  throw new UsageError(`unknown command: ${topic.join(' ')}`);
}

/** The failure on stderr, never holding the token whatever an error message quotes; the exit status. */
function report(error: unknown, usage: string, verbose: boolean, secrets: string[]): number {
  const fail = (text: string) =>
    process.stderr.write(`${secrets.reduce((out, secret) => out.split(secret).join('[REDACTED]'), text)}\n`);
  if (error instanceof UsageError) {
    fail(error.message);
    if (!(error instanceof ConfigurationError)) fail(`\n${usage}`);
    return EXIT.usage;
  }
  if (error instanceof ApiError) {
    fail(`${error.code}: ${error.message}`);
    const problems = error.details?.errors;
    if (Array.isArray(problems))
      for (const problem of problems as { path?: string; message?: string }[])
        fail(`  ${problem.path || '/'}: ${problem.message}`);
    if (verbose && error.details) fail(JSON.stringify(error.details, null, 2));
  } else if (error instanceof Failed) fail(error.message);
  else if (String((error as { code?: unknown })?.code).startsWith('ERR_PARSE_ARGS')) {
    fail(`${(error as Error).message}\n\n${usage}`);
    return EXIT.usage;
  } else fail(`error: ${error instanceof Error ? error.message : String(error)}`);
  if (verbose && error instanceof Error && error.stack) fail(error.stack);
  return EXIT.failed;
}

async function main(argv: string[]): Promise<number> {
  let usage = USAGE;
  let verbose = argv.includes('--verbose');
  const secrets: string[] = [];
  try {
    const global = globalOptions(argv);
    verbose = global.verbose;
    const { words } = global;
    // Nothing asked: the overview, as a usage error (a script that lost its arguments must not pass).
    if (words.length === 0) throw new UsageError('configledger needs a command');
    if (words[0] === 'help' || (words[0]!.startsWith('-') && asksForHelp(words))) {
      process.stdout.write(`${await help(words[0] === 'help' ? words.slice(1) : [])}\n`);
      return EXIT.done;
    }
    const found = findCommand(words);
    if (!found) {
      if (isGroup(words[0])) {
        usage = groupUsage(words[0]!);
        if (asksForHelp(words)) {
          process.stdout.write(`${usage}\n`);
          return EXIT.done;
        }
        throw new UsageError(words[1] ? `unknown command: ${words.join(' ')}` : `${words[0]} needs a command`);
      }
      throw new UsageError(`unknown command: ${words[0]}`);
    }
    const command = await found.entry.load();
    usage = `${command.usage}\n\n${EXIT_STATUS}`;
    if (asksForHelp(found.args)) {
      process.stdout.write(`${usage}\n`);
      return EXIT.done;
    }
    let api: ApiClient | undefined;
    const session: Session = {
      api() {
        if (!api) {
          const connection = resolveConnection(process.env, global.profile);
          secrets.push(connection.token);
          api = createApiClient(connection);
        }
        return api;
      },
    };
    return (await command.run(found.args, session)) ?? EXIT.done;
  } catch (error) {
    return report(error, usage, verbose, secrets);
  }
}

// A reader that goes away (| head) is not a failure.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(EXIT.done);
  throw error;
});

const status = await main(process.argv.slice(2));
// A pipe takes what is written a piece at a time: exit once stdout and stderr have passed it all on.
const flushed = (stream: NodeJS.WriteStream) => new Promise<void>((resolve) => stream.write('', () => resolve()));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(status);
