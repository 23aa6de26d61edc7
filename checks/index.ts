import type { Check } from '../src/runner/check.js';
import { cacheInfo } from './cache-info.js';
import { config } from './config.js';
import { connect } from './connect.js';
import { coverage } from './coverage.js';
import { daemon } from './daemon.js';
import { firewall } from './firewall.js';
import { flake } from './flake.js';
import { hitRate } from './hit-rate.js';
import { nar } from './nar.js';
import { network } from './network.js';
import { ping } from './ping.js';
import { priority } from './priority.js';
import { service } from './service.js';
import { signature } from './signature.js';
import { signingKey } from './signing-key.js';
import { trust } from './trust.js';

/**
 * The documented troubleshooting order. Ids are part of the JSON contract. The host-scope
 * signing-key check comes before the cache checks so that all cache checks form one phase
 * (every cache concurrently); it belongs with the server steps either way.
 */
export const CHECKS: readonly Check[] = [
  config,
  trust,
  signingKey,
  network,
  service,
  firewall,
  ping,
  connect,
  cacheInfo,
  signature,
  nar,
  coverage,
  priority,
  daemon,
  flake,
  hitRate,
];
