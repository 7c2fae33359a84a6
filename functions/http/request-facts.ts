// What a raw request says about itself, read before (and for) the framework: the id the guard gave it, its
// client's address, whether its target and body encoding can be handled at all.
import type {IncomingMessage, ServerResponse} from 'node:http';
import {isIP} from 'node:net';
import {routePath} from './body-limits';

/** The request id the guard gave this request (it is on the response from the start). */
export function requestIdOf(
  res: Pick<ServerResponse, 'getHeader'>,
): string | undefined {
  const id = res.getHeader('x-request-id');
  return typeof id === 'string' && id !== '' ? id : undefined;
}

/** No Content-Encoding, or only `identity`: a body that is what it says. */
export function isIdentity(contentEncoding: string | undefined): boolean {
  if (contentEncoding === undefined) return true;
  return contentEncoding
    .split(',')
    .every(c => ['', 'identity'].includes(c.trim().toLowerCase()));
}

/**
 * The client's address for the log: the last X-Forwarded-For hop, the one Google's front end appended (earlier hops
 * are whatever the client sent), if it is an IP address; else the socket's peer.
 */
export function remoteIp(req: IncomingMessage): string | undefined {
  const forwarded = req.headers['x-forwarded-for'];
  const last = (Array.isArray(forwarded) ? forwarded.join(',') : forwarded)
    ?.split(',')
    .pop()
    ?.trim();
  return last && isIP(last) ? last : req.socket.remoteAddress;
}

/** An origin-form target whose path decodes (or an absolute-form one): Express throws on a bad `%` escape. */
export function wellFormedTarget(url: string | undefined): boolean {
  const path = routePath(url);
  if (path === '') return false;
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}

export function firstHeader(
  v: string | string[] | undefined,
): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
