/**
 * Under `npx` or an npm script the CLI runs as npm -> `sh -c` -> node. npm hands SIGTERM and SIGINT to its
 * shell only, and the shell dies without passing them on: npm exits 143 at once and the consumer runs on,
 * re-parented (measured with npm 10.9.9 and 11.19.1, dash as sh; docs/operations.md). So when the process
 * that started this one goes away, this one stops as on SIGTERM: the running batch finishes and commits.
 * Started by the bin only when npm started it (npm sets `npm_lifecycle_event`), so that a consumer run
 * with nohup or by a shell that then exits is left alone.
 */
export function stopWhenOrphaned(options: { parentPid: number; intervalMs?: number }): void {
  const timer = setInterval(() => {
    if (process.ppid === options.parentPid) return;
    clearInterval(timer);
    process.kill(process.pid, 'SIGTERM');
  }, options.intervalMs ?? 250);
  // The watch alone never keeps the process up.
  timer.unref();
}
