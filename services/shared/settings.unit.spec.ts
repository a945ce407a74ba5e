import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InvalidSetting, readSettings, renderSettingsTable } from './settings.ts';

const START = '<!-- settings-table:start -->';
const END = '<!-- settings-table:end -->';

describe('the settings', () => {
  it('are the ones the README lists, with the same defaults and meaning', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const shown = readme.slice(readme.indexOf(START) + START.length, readme.indexOf(END)).trim();
    expect(shown, `replace the README's table with:\n${renderSettingsTable()}`).toBe(renderSettingsTable());
  });

  it('take their defaults when unset or empty, and their types when set', () => {
    expect(readSettings({ PORT: '', DATABASE_URL: '' })).toMatchObject({
      PORT: 8011,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      DATA_DIR: './data',
    });
    expect(readSettings({ PORT: '9000', SHUTDOWN_TIMEOUT_MS: '2500' })).toMatchObject({
      PORT: 9000,
      SHUTDOWN_TIMEOUT_MS: 2500,
    });
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ JWT_SECRET: 'short' }, 'JWT_SECRET'],
    [{ RATE_LIMIT_PER_ADDRESS: '-1' }, 'RATE_LIMIT_PER_ADDRESS'],
    [{ IDEMPOTENCY_KEY_TTL_HOURS: '1.5' }, 'IDEMPOTENCY_KEY_TTL_HOURS'],
  ])('refuses %j naming %s', (env, name) => {
    expect(() => readSettings(env)).toThrow(InvalidSetting);
    expect(() => readSettings(env)).toThrow(name);
  });
});
