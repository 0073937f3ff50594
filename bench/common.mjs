// Shared by the bench's servers: the bodies every server returns, byte for byte.

/** The objects the origin serves, and the bare-Node baseline mirrors. */
export const OBJECTS = {
  '/1k': { size: 1024, cacheControl: 'max-age=3600' },
  '/100k': { size: 100 * 1024, cacheControl: 'max-age=3600' },
  '/pass': { size: 1024, cacheControl: 'no-store' },
};

/** A deterministic printable body of `size` bytes. */
export function makeBody(size) {
  const pattern = Buffer.from('Tiercel bench body 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ\n');
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i += pattern.length) pattern.copy(out, i, 0, Math.min(pattern.length, size - i));
  return out;
}

/** Tells the parent which port the server took (it listens on port 0). */
export function announce(server) {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
}

/** Exits on SIGTERM/SIGINT, and when the parent goes away (its stdin closes). */
export function exitWithParent(server) {
  const stop = () => { server.closeAllConnections?.(); process.exit(0); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}
