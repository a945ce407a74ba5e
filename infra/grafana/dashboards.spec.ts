import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '#testing/server.ts';

interface Dashboard {
  panels: { title: string; targets: { expr: string }[] }[];
}

describe('the Grafana dashboard', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ store: 'pglite' });
  });
  afterAll(async () => server?.close());

  it('queries only metrics the service exports or the recording rules define', async () => {
    const exported = new Set(
      (await (await fetch(server.baseUrl.replace('/api/v1', '/metrics'))).text())
        .split('\n')
        .filter((line) => line.startsWith('# TYPE '))
        .flatMap((line) => {
          const [, , name, type] = line.split(' ');
          return type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name!];
        }),
    );
    const rules = parse(readFileSync('infra/prometheus/rules.yml', 'utf8')) as {
      groups: { rules: { record?: string }[] }[];
    };
    const recorded = rules.groups.flatMap((group) => group.rules.flatMap((rule) => (rule.record ? [rule.record] : [])));
    const dashboard = JSON.parse(readFileSync('infra/grafana/dashboards/configledger.json', 'utf8')) as Dashboard;
    const known = new Set([...exported, ...recorded]);
    const functions = new Set([
      'sum',
      'rate',
      'by',
      'histogram_quantile',
      'le',
      'status',
      'outcome',
      'reason',
      'dependency',
      'projection',
      'instance',
    ]);
    expect(dashboard.panels.length).toBeGreaterThan(8);
    for (const panel of dashboard.panels) {
      for (const { expr } of panel.targets) {
        const names = (expr.replace(/\[[^\]]*\]/g, '').match(/[a-z_:][a-z0-9_:]*/g) ?? []).filter(
          (name) => !functions.has(name) && !/^\d/.test(name),
        );
        expect(names.length, `${panel.title}: ${expr}`).toBeGreaterThan(0);
        for (const name of names) expect(known.has(name), `${panel.title} queries ${name}`).toBe(true);
      }
    }
  });
});
