import { writeFileSync } from 'node:fs';
import { contractFiles } from './contract-files.ts';

for (const [path, content] of contractFiles()) writeFileSync(path, content);
process.stdout.write(`wrote ${contractFiles().size} contract files under events/\n`);
