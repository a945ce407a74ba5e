import { describe, expect, it } from 'vitest';
import { soakWrites } from './soak-writes.ts';

describe('the soak, short: writes through a cut, a stall and connection resets, each accounted for', () => {
  it('loses none, doubles none, answers each as the log has it, and leaves the read models equal to the log', async () => {
    const report = await soakWrites({ port: 18431, seconds: 12, services: 20, writers: 8, attempts: 8 });
    expect(report.problems).toEqual([]);
    expect(report.counts).toEqual({
      acknowledgedButAbsent: 0,
      doubled: 0,
      answerDiffers: 0,
      revisionGaps: 0,
      readModelDiffers: 0,
      unresolved: 0,
    });
    expect(report.acknowledged).toBeGreaterThan(50);
    // The faults bit: some answers were not 2xx, and some commands needed a retry.
    expect(Object.keys(report.answers).some((label) => !label.startsWith('2'))).toBe(true);
    expect(report.retried).toBeGreaterThan(0);
  }, 120_000);
});
