// Before the ledger answers for an old entry, Classroom confirms the invitation still exists (it may have been
// accepted or deleted elsewhere since).
import type {ClassroomInvitations} from '../classroom';
import type {Config} from '../config';
import type {LedgerSnapshot} from '../ledger';
import type {CreateLedger} from './flow';
import * as logs from '../log-events';
import {withRetries} from '../retry';
import {retryOptions} from '../upstream';

/**
 * Present: the entry as it now stands (marked checked), or `changed` when another request wrote it meanwhile.
 * Gone: every entry holding it is released and the request proceeds as new. Unknown (Classroom unreachable):
 * the ledger's answer stands; a stale replay beats failing a request that is most likely a repeat.
 */
export async function recheck(
  config: Config,
  ledger: CreateLedger,
  classroom: ClassroomInvitations,
  key: string,
  snap: LedgerSnapshot,
  deadline: number,
): Promise<LedgerSnapshot | 'changed' | 'gone' | 'unknown'> {
  const id = snap.entry.invitation!.id;
  const r = await withRetries(
    o => classroom.get(id, o),
    retryOptions(config, deadline, 2),
  );
  if (r.value) {
    try {
      return (await ledger.markChecked(key, snap)) ?? 'changed';
    } catch (err) {
      logs.markCheckedFailed(err);
      return snap;
    }
  }
  if (r.error?.upstream && r.error.status === 'NOT_FOUND') {
    await ledger.releaseInvitation(id);
    return 'gone';
  }
  return 'unknown';
}
