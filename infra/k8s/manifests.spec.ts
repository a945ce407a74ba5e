import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
};

const documents = parseAllDocuments(readFileSync('infra/k8s/configledger.yaml', 'utf8')).map(
  // biome-ignore lint/suspicious/noExplicitAny: the manifests are checked by the Kubernetes models, field access is the test's.
  (doc) => doc.toJS() as { apiVersion: string; kind: string; spec?: any },
);

describe('Kubernetes manifests', () => {
  it('holds a Deployment, Service, HPA, PodDisruptionBudget, NetworkPolicy and its secret references, each valid against the Kubernetes schema', () => {
    expect(documents.map((doc) => doc.kind).sort()).toEqual([
      'ConfigMap',
      'Deployment',
      'HorizontalPodAutoscaler',
      'NetworkPolicy',
      'PodDisruptionBudget',
      'Service',
      'ServiceAccount',
    ]);
    for (const doc of documents) {
      const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
      expect(Model, `${doc.apiVersion} ${doc.kind}`).toBeDefined();
      expect(() => new Model!(doc as never).validate()).not.toThrow();
    }
  });

  it('takes secrets only by reference and probes the health endpoints the service serves', () => {
    const deployment = documents.find((doc) => doc.kind === 'Deployment')!;
    const container = deployment.spec.template.spec.containers[0];
    const secretEnv = container.env.filter((entry: { valueFrom?: unknown }) => entry.valueFrom);
    expect(secretEnv.map((entry: { name: string }) => entry.name).sort()).toEqual([
      'DATABASE_URL',
      'JWT_SECRET',
      'MASTER_KEY',
    ]);
    expect(
      container.env.some((entry: { name: string; value?: string }) => entry.name === 'JWT_SECRET' && entry.value),
    ).toBe(false);
    expect(container.readinessProbe.httpGet.path).toBe('/api/v1/health/ready');
    expect(container.livenessProbe.httpGet.path).toBe('/api/v1/health');
  });

  it('rejects a manifest the schema does not allow', () => {
    const broken = structuredClone(documents.find((doc) => doc.kind === 'Deployment')!);
    broken.spec.replicas = 'three';
    expect(() => new Deployment(broken as never).validate()).toThrow();
  });
});
