import { describe, expect, it } from 'vitest';
import { judgeOrder, type OrderInput, substitutersFix, withUrlPriority } from '../../src/nix/priority-advice.js';

/** The priority check's judgement of an order, as pure data (no facts). */

const cache = (index: number, url: string, more: Partial<OrderInput> = {}): OrderInput => ({
  index,
  url,
  place: 'remote',
  working: true,
  ...more,
});

describe('judgeOrder', () => {
  it("orders by priority, ties in nix.conf order, as Nix's stable sort does", () => {
    const { rows } = judgeOrder([cache(0, 'a', { advertised: 40 }), cache(1, 'b', { urlPriority: 10 }), cache(2, 'c', { advertised: 40 })]);
    expect(rows.map((r) => [r.url, r.order])).toEqual([
      ['b', 1],
      ['a', 2],
      ['c', 3],
    ]);
  });

  it("takes a nix-cache-info read without Priority as Nix's default 0, and one not read as unknown", () => {
    const { rows } = judgeOrder([cache(0, 'read', { advertised: null }), cache(1, 'unread')]);
    expect(rows.map((r) => [r.url, r.priority, r.source, r.order])).toEqual([
      ['read', 0, 'default', 1],
      ['unread', null, 'unknown', null],
    ]);
  });

  it('suggests nothing when the suggestions would leave the order as it is', () => {
    // A remote cache with Nix's default 0 is first, but it is the only cache with a known priority.
    const { problems, suggested } = judgeOrder([cache(0, 'a', { advertised: null }), cache(1, 'b')]);
    expect(problems).toEqual([]);
    expect(suggested.size).toBe(0);
  });
});

describe('substitutersFix', () => {
  const urls = [
    { index: 0, url: 'http://127.0.0.1:5000' },
    { index: 1, url: 'https://cache.nixos.org/' },
  ];

  it('is undefined when no suggestion changes the line (never the current line as a fix)', () => {
    expect(substitutersFix(urls, new Map(), '/etc/nix/nix.conf')).toBeUndefined();
    expect(substitutersFix([{ index: 0, url: 'http://a?priority=10' }], new Map([[0, 10]]), '/etc/nix/nix.conf')).toBeUndefined();
  });

  it('keeps nix.conf order and writes both the nix.conf line and the NixOS option', () => {
    expect(substitutersFix(urls, new Map([[0, 10]]), '/etc/nix/nix.conf')?.split('\n')).toEqual([
      'In /etc/nix/nix.conf: substituters = http://127.0.0.1:5000?priority=10 https://cache.nixos.org/',
      'NixOS: nix.settings.substituters = [ "http://127.0.0.1:5000?priority=10" "https://cache.nixos.org/" ];',
      'Lower numbers are tried first: this machine or LAN 10, cache.nixos.org 40, fallbacks 100.',
    ]);
  });

  it('replaces a ?priority= the URL had, keeping its other parameters', () => {
    expect(withUrlPriority('https://c.example.org?priority=30&trusted=1', 100)).toBe('https://c.example.org?trusted=1&priority=100');
    expect(withUrlPriority('https://c.example.org?trusted=1&priority=30', 100)).toBe('https://c.example.org?trusted=1&priority=100');
  });
});
