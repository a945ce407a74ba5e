import type { ApprovalPolicyEvent, ChangeRequestEvent } from '#events/approvals.ts';
import { parseEvent } from '#events/parse.ts';
import type { Projection } from '../projection.ts';

/** Approval policies and change requests with their decisions, for listing; each request's truth is its stream. */
export const approvalsProjection: Projection = {
  name: 'approvals',
  async apply(tx, events) {
    for (const recorded of events) {
      if (!recorded.type.startsWith('ApprovalPolicy') && !recorded.type.startsWith('ChangeRequest')) continue;
      const event = parseEvent<ApprovalPolicyEvent | ChangeRequestEvent>(recorded);
      const position = recorded.position.toString();
      switch (event.type) {
        case 'ApprovalPolicyDefined':
          await tx.query(
            `INSERT INTO approval_policies (id, definition, removed, position) VALUES ($1, $2, false, $3)
             ON CONFLICT (id) DO UPDATE SET definition = EXCLUDED.definition, removed = false, position = EXCLUDED.position WHERE approval_policies.position < EXCLUDED.position`,
            [event.data.id, JSON.stringify(event.data), position],
          );
          break;
        case 'ApprovalPolicyRemoved':
          await tx.query('UPDATE approval_policies SET removed = true, position = $2 WHERE id = $1 AND position < $2', [
            event.data.id,
            position,
          ]);
          break;
        case 'ChangeRequestOpened': {
          const d = event.data;
          await tx.query(
            `INSERT INTO change_requests (id, status, service_id, environment, changed_keys, requested_by, reason, required_approvals, approvals, opened_at, expires_at, position)
             VALUES ($1, 'pending', $2, $3, $4, $5, $6, $7, '[]', $8, $9, $10) ON CONFLICT (id) DO NOTHING`,
            [
              d.id,
              d.change.serviceId,
              d.change.environment,
              d.change.changedKeys,
              d.requestedBy,
              d.reason ?? null,
              d.requiredApprovals,
              d.openedAt,
              d.expiresAt,
              position,
            ],
          );
          break;
        }
        case 'ChangeRequestApproved':
          await tx.query(
            'UPDATE change_requests SET approvals = approvals || $2::jsonb, position = $3 WHERE id = $1 AND position < $3',
            [
              event.data.id,
              JSON.stringify([
                { approver: event.data.approver, comment: event.data.comment ?? null, at: event.data.at },
              ]),
              position,
            ],
          );
          break;
        case 'ChangeRequestRejected':
        case 'ChangeRequestApplied':
        case 'ChangeRequestFailed': {
          const status = {
            ChangeRequestRejected: 'rejected',
            ChangeRequestApplied: 'applied',
            ChangeRequestFailed: 'failed',
          }[event.type];
          await tx.query(
            'UPDATE change_requests SET status = $2, outcome = $3, position = $4 WHERE id = $1 AND position < $4',
            [event.data.id, status, JSON.stringify(event.data), position],
          );
          break;
        }
        default: {
          const unknownEvent: never = event;
          throw new Error(`unknown event ${JSON.stringify(unknownEvent)}`);
        }
      }
    }
  },
};
