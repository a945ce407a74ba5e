import { type Command, OUTPUT, UsageError, outputFormat, parse } from './command.ts';
import { printJson, write } from './output.ts';
import { argumentText } from './write-commands.ts';

const TOKEN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The token's id: a JWT's `jti` claim (read, not verified: the server decides), or the id itself. */
function tokenId(given: string): string {
  const text = argumentText(given === '-' ? '@-' : given).trim();
  if (text.startsWith('clst_'))
    throw new UsageError(
      'that is a service token: revoke it with DELETE /service-tokens/:id (its id, never the token)',
    );
  const parts = text.split('.');
  if (parts.length === 3) {
    let claims: { jti?: unknown };
    try {
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
    } catch {
      throw new UsageError('that is not a JWT this service issued (its claims do not parse)');
    }
    if (typeof claims?.jti !== 'string' || !TOKEN_ID.test(claims.jti))
      throw new UsageError('that JWT has no id (jti), so it cannot be revoked alone: rotate JWT_SECRET');
    return claims.jti;
  }
  if (!TOKEN_ID.test(text))
    throw new UsageError('give a JWT, its id (the jti claim, a UUID), @FILE or - (standard input)');
  return text;
}

export const tokenRevoke: Command = {
  usage: `configledger token revoke TOKEN|ID|@FILE|- [--reason TEXT] [--output json|table]

Revoke a JWT before it expires, by the token itself or its id (the jti claim): every instance refuses it
from now on and closes its WebSockets. Give - to read the token from standard input, out of the shell
history. (Service tokens, clst_..., are revoked with DELETE /service-tokens/:id.)`,
  async run(args, session) {
    const { values, positionals } = parse(args, { ...OUTPUT, reason: { type: 'string' } }, { min: 1 });
    const output = outputFormat(values.output);
    const jti = tokenId(positionals[0]!);
    const { data } = await session
      .api()
      .write<{ jti: string; revokedAt: string; position: number }>('POST', '/tokens/revocations', {
        body: values.reason === undefined ? { jti } : { jti, reason: values.reason },
      });
    if (output === 'json') printJson(data);
    else write(`revoked token ${data.jti} at ${data.revokedAt}`);
    return undefined;
  },
};
