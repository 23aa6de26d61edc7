import { isIP } from 'node:net';

/** True for addresses that are not on the public Internet: loopback, RFC 1918, link-local, CGNAT, ULA. */
export function isPrivateAddress(address: string): boolean {
  const a = address.replace(/^::ffff:/i, '');
  if (isIP(a) === 4) {
    const [x, y] = a.split('.').map(Number) as [number, number];
    return (
      x === 10 ||
      x === 127 ||
      (x === 172 && y >= 16 && y <= 31) ||
      (x === 192 && y === 168) ||
      (x === 169 && y === 254) ||
      (x === 100 && y >= 64 && y <= 127)
    );
  }
  if (isIP(a) === 6) {
    const l = a.toLowerCase();
    return l === '::1' || l.startsWith('fc') || l.startsWith('fd') || l.startsWith('fe80');
  }
  return false;
}

/** Host names that conventionally name machines on the local network. */
export function isLanHostName(host: string): boolean {
  return host === 'localhost' || /\.(local|lan|home|internal|localdomain|home\.arpa)$/i.test(host) || !host.includes('.');
}
