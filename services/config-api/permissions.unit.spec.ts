import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ROLES_FOR, ROUTE_RULES, type RouteRule } from './permissions.ts';

const START = '<!-- permission-table:start -->';
const END = '<!-- permission-table:end -->';

function who(rule: RouteRule): string {
  if (rule.permission === 'public') return 'anyone';
  if (rule.permission === 'session') return 'anyone with a token, in the WebSocket protocol';
  const roles = ROLES_FOR[rule.permission].join(', ');
  const escalation = rule.escalation
    ? `; ${ROLES_FOR[rule.escalation.permission].join(', ')} when ${rule.escalation.when}`
    : '';
  return `${roles}${escalation}`;
}

/** The README's permission table, as the authentication hook reads it. */
function renderPermissionTable(): string {
  const rows = Object.entries(ROUTE_RULES)
    .filter(([route]) => !route.includes('/docs/'))
    .map(([route, rule]) => `| \`${route.replace('/api/v1', '')}\` | ${who(rule)} | ${rule.scope} |`);
  return ['| route | who may | service scope |', '|---|---|---|', ...rows].join('\n');
}

describe('the permission table', () => {
  it('is the one the README shows', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const shown = readme.slice(readme.indexOf(START) + START.length, readme.indexOf(END)).trim();
    expect(shown, `replace the README's table with:\n${renderPermissionTable()}`).toBe(renderPermissionTable());
  });
});
