import { InvalidOptionError } from '../errors.ts';

/** The `Key=Value;…` pairs of an Azure connection string, keys lower-cased. */
export function parseConnectionString(cs: string): Map<string, string> {
  const parts = new Map<string, string>();
  for (const part of cs.split(';')) {
    const at = part.indexOf('=');
    if (at > 0) parts.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  return parts;
}

/** The namespace host of an Event Hubs connection string (`<ns>.servicebus.windows.net`, or host:port for a local peer). */
export function namespaceOf(connectionString: string): string {
  const endpoint = parseConnectionString(connectionString).get('endpoint');
  const host = endpoint ? /^[a-z]+:\/\/([^/]+)/i.exec(endpoint)?.[1] : undefined;
  if (!host)
    throw new InvalidOptionError(
      'the Event Hubs connection string has no Endpoint=sb://<namespace>.servicebus.windows.net/; copy it from the namespace\'s "Shared access policies" in the portal',
    );
  return host;
}
