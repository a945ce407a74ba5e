import type { JsonObject } from './metadata.ts';
import type { Sensitivity } from './credentials.ts';

export const approvalPolicyStream = (id: string) => `approval-policy-${id}`;
export const changeRequestStream = (id: string) => `change-request-${id}`;

/** Which changes need approval: environments and key patterns (`*`, `risk.*`, `risk.limits.maxPosition`). */
export interface ApprovalPolicy {
  id: string;
  environments: string[];
  keyPatterns: string[];
  requiredApprovals: number;
  approverRole: string;
  expiresAfterHours: number;
  description?: string;
  /** Credential stores and rotations at or above this sensitivity, in these environments, need approval too. */
  credentialSensitivity?: Sensitivity;
  /** Changing what these environments inherit (re-parenting, removing a parent) needs approval too. */
  inheritance?: boolean;
}

export type ApprovalPolicyDefined = { type: 'ApprovalPolicyDefined'; data: ApprovalPolicy };
export type ApprovalPolicyRemoved = { type: 'ApprovalPolicyRemoved'; data: { id: string } };
export type ApprovalPolicyEvent = ApprovalPolicyDefined | ApprovalPolicyRemoved;

/** The change waiting for approval, as the command that will apply it. */
export type ProposedChange =
  | ProposedConfigurationChange
  | ProposedCredentialChange
  | ProposedEnvironmentChange
  | ProposedImport;

export interface ProposedConfigurationChange {
  kind: 'configuration';
  serviceId: string;
  environment: string;
  /** The configuration command without its schema validator (it is validated again when applied). */
  command: JsonObject;
  /** The version the change was decided on: applying it later onto another version fails. */
  baseVersion: number;
  changedKeys: string[];
}

/** A credential store or rotation: the value is already sealed for `baseVersion + 1`, so the request holds ciphertext only. */
export interface ProposedCredentialChange {
  kind: 'credential';
  serviceId: string;
  environment: string;
  command: JsonObject;
  baseVersion: number;
  changedKeys: string[];
}

/**
 * An import of a service's configurations (and schema) in several
 * environments, held as one change so that it applies whole or not at all.
 * `command` is `{schema, environments: {<environment>: {configuration, baseVersion}}}`;
 * `environment` names the first environment a policy holds; `changedKeys` are `environment:key`.
 */
export interface ProposedImport {
  kind: 'import';
  serviceId: string;
  environment: string;
  command: JsonObject;
  baseVersion: number;
  changedKeys: string[];
}

/**
 * A re-parenting or removal of an environment. It concerns every service, so
 * its `serviceId` is `*`; `changedKeys` names `serviceId:key` of each
 * effective configuration it changes.
 */
export interface ProposedEnvironmentChange {
  kind: 'environment';
  serviceId: '*';
  environment: string;
  /** `{type: 'Redefine', definition}` or `{type: 'Remove', id}`. */
  command: JsonObject;
  /** The definition it was decided on (null: the environment did not exist); applying it onto another fails. */
  decidedOn: JsonObject | null;
  baseVersion: number;
  changedKeys: string[];
}

export type ChangeRequestOpened = {
  type: 'ChangeRequestOpened';
  data: {
    id: string;
    change: ProposedChange;
    requestedBy: string;
    reason?: string;
    policyIds: string[];
    requiredApprovals: number;
    approverRole: string;
    openedAt: string;
    expiresAt: string;
  };
};
export type ChangeRequestApproved = {
  type: 'ChangeRequestApproved';
  data: { id: string; approver: string; comment?: string; at: string };
};
export type ChangeRequestRejected = {
  type: 'ChangeRequestRejected';
  data: { id: string; approver: string; comment?: string; at: string };
};
export type ChangeRequestApplied = {
  type: 'ChangeRequestApplied';
  data: { id: string; version: number; position: number; at: string };
};
export type ChangeRequestFailed = {
  type: 'ChangeRequestFailed';
  data: { id: string; code: string; message: string; at: string };
};

export type ChangeRequestEvent =
  | ChangeRequestOpened
  | ChangeRequestApproved
  | ChangeRequestRejected
  | ChangeRequestApplied
  | ChangeRequestFailed;
