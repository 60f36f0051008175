// The long-running commands (agent, aggregate, webhook, audit-rules) end on the first SIGTERM (kubelet) or
// SIGINT (a terminal); `run` has its own handler because it counts a second signal as "stop now".

/** Resolves on the first SIGTERM or SIGINT, and stops listening for the other. */
export function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(sig);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}
