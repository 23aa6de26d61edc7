/** A binary cache server the doctor knows, as its NixOS module sets it up. */
export interface KnownServer {
  unit: string;
  name: string;
  defaultPort: number;
  /** The NixOS option that makes it listen on every interface. */
  bindFix: string;
  enableFix: string;
}

/** Cache servers the doctor knows (nix-serve-ng runs as nix-serve.service). */
export const KNOWN_SERVERS: readonly KnownServer[] = [
  {
    unit: 'nix-serve.service',
    name: 'nix-serve',
    defaultPort: 5000,
    bindFix: 'services.nix-serve.bindAddress = "0.0.0.0";',
    enableFix: 'services.nix-serve.enable = true;',
  },
  {
    unit: 'harmonia.service',
    name: 'harmonia',
    defaultPort: 5000,
    bindFix: 'services.harmonia.settings.bind = "[::]:5000";',
    enableFix: 'services.harmonia.enable = true;',
  },
  {
    unit: 'atticd.service',
    name: 'atticd',
    defaultPort: 8080,
    bindFix: 'services.atticd.settings.listen = "[::]:8080";',
    enableFix: 'services.atticd.enable = true;',
  },
];
