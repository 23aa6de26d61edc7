import type { Check } from '../src/runner/types.js';
import { cacheInfo } from './cache-info.js';
import { config } from './config.js';
import { connect } from './connect.js';
import { ping } from './ping.js';
import { priority } from './priority.js';
import { signature } from './signature.js';
import { trust } from './trust.js';

/** The documented troubleshooting order. Ids are part of the JSON contract. */
export const CHECKS: readonly Check[] = [config, trust, ping, connect, cacheInfo, signature, priority];
