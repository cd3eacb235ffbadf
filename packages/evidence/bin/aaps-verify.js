#!/usr/bin/env node
// The `aaps-verify` command. It lives outside dist/ because npm links a bin only if its file exists
// when it installs, and dist/ is made after that, by the root's `prepare` (package-lock.json
// records this path too). The launcher it loads runs the CLI as it is imported.
import('../dist/cli/aaps-verify.js').catch((error) => {
  const missing = error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('/dist/');
  process.stderr.write(
    missing
      ? 'aaps-verify: not built yet: run `npm run build` at the repository root\n'
      : `aaps-verify: ${error}\n`,
  );
  process.exit(2);
});
