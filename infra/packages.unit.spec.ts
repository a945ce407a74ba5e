import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

interface LockedPackage {
  version?: string;
  engines?: { node?: string } | string[];
  hasInstallScript?: boolean;
}

const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as {
  engines: { node: string };
  allowScripts: Record<string, boolean>;
};
const locked = Object.entries(
  (JSON.parse(readFileSync('package-lock.json', 'utf8')) as { packages: Record<string, LockedPackage> }).packages,
)
  .filter(([path]) => path.startsWith('node_modules/') || path.includes('/node_modules/'))
  .map(([path, entry]) => ({ name: path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length), ...entry }));

describe('a clean install (npm ci)', () => {
  it('has no package that declares a Node newer than the one the project requires (no EBADENGINE warning)', () => {
    const oldest = semver.minVersion(manifest.engines.node)!.version;
    const refused = locked
      .filter((entry) => !Array.isArray(entry.engines) && entry.engines?.node)
      .filter((entry) => !semver.satisfies(oldest, (entry.engines as { node: string }).node))
      .map((entry) => `${entry.name}@${entry.version} wants node ${(entry.engines as { node: string }).node}`);
    expect(refused).toEqual([]);
  });

  it('runs only the install scripts that were reviewed: each one is allowed or denied in allowScripts', () => {
    const unreviewed = locked
      .filter((entry) => entry.hasInstallScript && !(entry.name in manifest.allowScripts))
      .map((entry) => `${entry.name}@${entry.version}`);
    expect(unreviewed).toEqual([]);
  });
});
