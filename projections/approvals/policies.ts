import type { ApprovalPolicy, ApprovalPolicyEvent } from '#events/approvals.ts';
import type { EffectiveChange } from '#events/environments.ts';
import { SENSITIVITIES, type Sensitivity } from '#events/credentials.ts';
import type { RecordedEvent } from '#infra/eventstore/port.ts';
import type { SqlExecutor } from '#infra/postgres/database.ts';
import { parseEvent } from '#events/parse.ts';

export const keyMatches = (pattern: string, key: string) =>
  pattern === '*' ||
  key === pattern ||
  (pattern.endsWith('.*') && (key === pattern.slice(0, -2) || key.startsWith(pattern.slice(0, -1))));

/** Every approval policy, in memory, kept current from the log. */
export class PolicyDirectory {
  private readonly policies = new Map<string, ApprovalPolicy>();

  async load(db: SqlExecutor): Promise<void> {
    const { rows } = await db.query<{ definition: ApprovalPolicy }>(
      'SELECT definition FROM approval_policies WHERE NOT removed',
    );
    for (const row of rows) this.policies.set(row.definition.id, row.definition);
  }

  applyEvents(events: RecordedEvent[]): void {
    for (const recorded of events) {
      if (recorded.type !== 'ApprovalPolicyDefined' && recorded.type !== 'ApprovalPolicyRemoved') continue;
      const event = parseEvent<ApprovalPolicyEvent>(recorded);
      if (event.type === 'ApprovalPolicyDefined') this.policies.set(event.data.id, event.data);
      else this.policies.delete(event.data.id);
    }
  }

  get size(): number {
    return this.policies.size;
  }

  list(): ApprovalPolicy[] {
    return [...this.policies.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  /** The policies a credential store or rotation of this sensitivity in `environment` falls under. */
  matchingCredential(environment: string, sensitivity: Sensitivity): ApprovalPolicy[] {
    return this.list().filter(
      (policy) =>
        policy.credentialSensitivity !== undefined &&
        (policy.environments.includes('*') || policy.environments.includes(environment)) &&
        SENSITIVITIES.indexOf(sensitivity) >= SENSITIVITIES.indexOf(policy.credentialSensitivity),
    );
  }

  /**
   * The policies an environment change falls under: those that govern the
   * inheritance of the environment or of one it changes, and those whose key
   * patterns match a key it changes in an environment they cover.
   */
  matchingEnvironmentChange(environment: string, impact: EffectiveChange[]): ApprovalPolicy[] {
    const covers = (policy: ApprovalPolicy, id: string) =>
      policy.environments.includes('*') || policy.environments.includes(id);
    return this.list().filter(
      (policy) =>
        (policy.inheritance === true &&
          (covers(policy, environment) || impact.some((change) => covers(policy, change.environment)))) ||
        impact.some(
          (change) =>
            covers(policy, change.environment) &&
            change.changedKeys.some((key) => policy.keyPatterns.some((pattern) => keyMatches(pattern, key))),
        ),
    );
  }

  /** The policies a change of `changedKeys` in `environment` falls under. */
  matching(environment: string, changedKeys: string[]): ApprovalPolicy[] {
    return this.list().filter(
      (policy) =>
        policy.keyPatterns.length > 0 &&
        (policy.environments.includes('*') || policy.environments.includes(environment)) &&
        changedKeys.some((key) => policy.keyPatterns.some((pattern) => keyMatches(pattern, key))),
    );
  }
}
