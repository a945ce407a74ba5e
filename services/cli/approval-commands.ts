import { type Command, OUTPUT, UsageError, outputFormat, parse } from './command.ts';
import { path } from './http-client.ts';
import { printJson, printTable, write } from './output.ts';

interface ChangeRequest {
  id: string;
  status: string;
  serviceId: string;
  environment: string;
  changedKeys: string[];
  requestedBy: string;
  reason: string | null;
  requiredApprovals: number;
  approvals: { approver: string }[];
  expiresAt: string;
  version?: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const decision = (verb: 'approve' | 'reject'): Command => ({
  usage: `configledger ${verb} ID [--comment TEXT] [--output json|table]

${
  verb === 'approve'
    ? 'Approve change request ID; at its quorum the change applies at once, and the answer says how it went.\nThe requester cannot approve their own change (SELF_APPROVAL), and an approver counts once.'
    : 'Reject change request ID: the change will not apply.'
}`,
  async run(args, session) {
    const { values, positionals } = parse(args, { ...OUTPUT, comment: { type: 'string' } }, { min: 1 });
    const output = outputFormat(values.output);
    const id = positionals[0]!;
    if (!UUID.test(id)) throw new UsageError(`${id} is not a change request id (a UUID)`);
    const { data } = await session.api().write<ChangeRequest>('POST', path`/change-requests/${id}/${verb}`, {
      body: values.comment === undefined ? {} : { comment: values.comment },
    });
    if (output === 'json') printJson(data);
    else {
      const progress =
        data.status === 'pending' ? ` (${data.approvals.length} of ${data.requiredApprovals} approvals)` : '';
      const applied = data.status === 'applied' && data.version !== undefined ? `: version ${data.version}` : '';
      write(
        `change request ${data.id} for ${data.serviceId} in ${data.environment}: ${data.status}${progress}${applied}`,
      );
    }
    return undefined;
  },
});

export const approve = decision('approve');
export const reject = decision('reject');

const STATUSES = ['pending', 'applied', 'rejected', 'failed'];

export const changeRequests: Command = {
  usage: `configledger change-requests [--status pending|applied|rejected|failed] [--output json|table]

List change requests, newest first (every page).`,
  async run(args, session) {
    const { values } = parse(args, { ...OUTPUT, status: { type: 'string' } });
    const output = outputFormat(values.output);
    if (values.status !== undefined && !STATUSES.includes(values.status))
      throw new UsageError(`--status is one of ${STATUSES.join(', ')}`);
    const rows = await session.api().readAll<ChangeRequest>('/change-requests', { status: values.status });
    if (output === 'json') printJson(rows);
    else
      printTable(
        ['id', 'status', 'service', 'environment', 'approvals', 'requested by', 'expires at', 'keys'],
        rows.map((row) => [
          row.id,
          row.status,
          row.serviceId,
          row.environment,
          `${row.approvals.length}/${row.requiredApprovals}`,
          row.requestedBy,
          row.expiresAt,
          row.changedKeys.join(', '),
        ]),
      );
    return undefined;
  },
};
