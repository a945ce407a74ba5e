import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderPermissionTable } from './permissions.ts';

const START = '<!-- permission-table:start -->';
const END = '<!-- permission-table:end -->';

describe('the permission table', () => {
  it('is the one the README shows', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const shown = readme.slice(readme.indexOf(START) + START.length, readme.indexOf(END)).trim();
    expect(shown, `replace the README's table with:\n${renderPermissionTable()}`).toBe(renderPermissionTable());
  });
});
