#!/usr/bin/env node
// The `aaps` command. It lives outside dist/ because npm links a bin only if its file exists
// when it installs, and dist/ is made after that, by the root's `prepare` (package-lock.json
// records this path too).
import('../dist/cli/aaps.js').then(
  (cli) => cli.runCommand(),
  (error) => {
    const missing = error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('/dist/');
    process.stderr.write(
      missing ? 'aaps: not built yet: run `npm run build` at the repository root\n' : `aaps: ${error}\n`,
    );
    process.exit(missing ? 2 : 1);
  },
);
