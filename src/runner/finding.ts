import type { Finding } from './check.js';

type Extras = Omit<Finding, 'status' | 'summary'>;

export const pass = (summary: string, extras: Extras = {}): Finding => ({ status: 'pass', summary, ...extras });
export const warn = (summary: string, extras: Extras = {}): Finding => ({ status: 'warn', summary, ...extras });
export const fail = (summary: string, extras: Extras = {}): Finding => ({ status: 'fail', summary, ...extras });
export const skip = (summary: string, reason: string, extras: Extras = {}): Finding => ({ status: 'skip', summary, reason, ...extras });

/** 'a file store', 'an s3 store': store types are read as letters (s3, ssh, http) or as words (file, daemon). */
export function storeKind(scheme: string): string {
  return `${/^(s3|ssh|http|https|ssh-ng|unix)$/.test(scheme) ? 'an' : 'a'} ${scheme} store`;
}
