// Preloaded (--import) into every child the orchestrator starts: exits when the orchestrator is gone, so a
// killed benchmark (even SIGKILL) leaves no server behind. One unref'd timer a second; nothing else.
// Plain JavaScript: compiled children (Cairn's dist/main.js) run under plain node, without tsx.
const parent = Number(process.env.CAIRN_BENCH_PARENT_PID);
const startPpid = process.ppid;
if (parent > 0) {
  setInterval(() => {
    let alive = process.ppid === startPpid;
    if (alive) {
      try {
        process.kill(parent, 0);
      } catch {
        alive = false;
      }
    }
    if (!alive) process.exit(70);
  }, 1_000).unref();
}
