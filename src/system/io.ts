import type { Exec } from './exec.js';
import type { Fs } from './fs.js';
import type { Http } from './http.js';
import type { Net } from './net.js';
import type { Ping } from './ping.js';

/** The adapters: the only code that touches the world. Each records what it did as evidence. */
export interface Io {
  exec: Exec;
  http: Http;
  net: Net;
  ping: Ping;
  fs: Fs;
}
