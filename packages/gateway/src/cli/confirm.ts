/**
 * The y/N question `aaps approve` asks on a terminal before it signs. Only a terminal on stdin can
 * answer; a script says what it approves with `--digest PREFIX` (or `--yes`) instead.
 */
import { createInterface } from 'node:readline';

/** Asks `question` and resolves with the answer typed; `''` when the input ends or on Ctrl-C. */
export type Ask = (question: string) => Promise<string>;

/** An {@link Ask} on this process's terminal (the question on stderr), or `undefined` when stdin is not one. */
export function terminalAsk(): Ask | undefined {
  if (process.stdin.isTTY !== true) return undefined;
  return (question) =>
    new Promise((resolve) => {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      let answer = '';
      rl.on('SIGINT', () => rl.close());
      rl.on('close', () => resolve(answer));
      rl.question(question, (typed) => {
        answer = typed;
        rl.close();
      });
    });
}
