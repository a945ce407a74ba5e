import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { contractFiles } from './contract-files.ts';

describe('the contract files for other languages', () => {
  it('are exactly what the schemas in the code generate (run `make contracts` after changing one)', () => {
    const generated = contractFiles();
    for (const [path, content] of generated)
      expect(readFileSync(path, 'utf8'), `${path} is out of date: run make contracts`).toBe(content);
    const onDisk = readdirSync('events/avro')
      .filter((name) => name.endsWith('.avsc'))
      .map((name) => `events/avro/${name}`);
    expect(onDisk.sort()).toEqual([...generated.keys()].filter((path) => path.endsWith('.avsc')).sort());
  });
});
