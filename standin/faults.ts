// Injected faults: the next `count` calls of a method are answered with an error, delayed, or never answered.
import type {StandInMethod} from './invitations';
import type {ReservedError} from './reserved';

/** An injected fault: the next `count` calls of `method` get `status` (or hang, or are delayed). */
export interface Fault {
  method: StandInMethod;
  count?: number;
  httpStatus?: number;
  status?: string;
  message?: string;
  /** Delay before answering, in ms (applies to the faulted calls). */
  latencyMs?: number;
  /** Never answer (the client's deadline decides). */
  hang?: boolean;
  /** With a fault status: also perform the call (e.g. a create that succeeds but whose answer is lost). */
  thenSucceed?: boolean;
  retryAfterSeconds?: number;
}

export class Faults {
  private faults: Fault[] = [];

  inject(fault: Fault): void {
    this.faults.push({count: 1, ...fault});
  }

  /** The fault the next call of `method` meets, if any (spending one of its count). */
  take(method: StandInMethod): Fault | undefined {
    const i = this.faults.findIndex(f => f.method === method);
    if (i < 0) return undefined;
    const f = this.faults[i]!;
    f.count = (f.count ?? 1) - 1;
    if (f.count <= 0) this.faults.splice(i, 1);
    return f;
  }

  clear(): void {
    this.faults = [];
  }
}

/** The error a fault with a status answers, and its headers. */
export function faultAnswer(
  fault: Fault & {httpStatus: number},
): [ReservedError, Record<string, string>] {
  return [
    {
      httpStatus: fault.httpStatus,
      status: fault.status ?? 'UNAVAILABLE',
      message: fault.message ?? 'The service is currently unavailable.',
    },
    fault.retryAfterSeconds
      ? {'Retry-After': String(fault.retryAfterSeconds)}
      : {},
  ];
}
