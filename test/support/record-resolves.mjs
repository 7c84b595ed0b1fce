// A module-resolution hook (node:module register) that reports every URL the process resolves to
// the thread that registered it, so a test can tell which packages an import pulled in, ESM or CJS entry.
let port;

export function initialize(data) {
  port = data.port;
}

export async function resolve(specifier, context, nextResolve) {
  const result = await nextResolve(specifier, context);
  port.postMessage(result.url);
  return result;
}
