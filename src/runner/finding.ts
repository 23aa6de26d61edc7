import type { Finding } from './types.js';

type Extras = Omit<Finding, 'status' | 'summary'>;

export const pass = (summary: string, extras: Extras = {}): Finding => ({ status: 'pass', summary, ...extras });
export const warn = (summary: string, extras: Extras = {}): Finding => ({ status: 'warn', summary, ...extras });
export const fail = (summary: string, extras: Extras = {}): Finding => ({ status: 'fail', summary, ...extras });
export const skip = (summary: string, reason: string, extras: Extras = {}): Finding => ({ status: 'skip', summary, reason, ...extras });

/** The two forms a fix takes on a Nix machine: a nix.conf line and the NixOS option. */
export function confFix(confLine: string, nixos: string, file = '/etc/nix/nix.conf'): string {
  return `Add to ${file}: ${confLine}\nNixOS: ${nixos}`;
}

/** 'a file store', 'an s3 store': store types are read as letters (s3, ssh, http) or as words (file, daemon). */
export function storeKind(scheme: string): string {
  return `${/^(s3|ssh|http|https|ssh-ng|unix)$/.test(scheme) ? 'an' : 'a'} ${scheme} store`;
}
