// Live updates: admin.watch on a scope; each change refetches what the console shows of it. Changes are
// coalesced (a worker writing 100 keys a second causes a few refetches, not 100).
import { useSubscription } from "@trpc/tanstack-react-query";
import { useEffect, useRef, useState } from "react";
import { type StateScope, useStateApi } from "./state-api.ts";
import { useTRPC } from "./trpc.ts";

const COALESCE_MS = 150;

export type LiveStatus = "connecting" | "live" | "reconnecting";

export function useLiveState(scope: StateScope): LiveStatus {
  const trpc = useTRPC();
  const api = useStateApi(scope);
  const [synced, setSynced] = useState(false);
  // The snapshot a new stream starts with repeats what the page already loaded: no refetch for it.
  const snapshotDone = useRef(false);
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const latest = useRef(api);
  latest.current = api;

  useEffect(() => () => clearTimeout(pending.current), []);

  const subscription = useSubscription(
    trpc.admin.watch.subscriptionOptions(api.watchInput, {
      onData: (tracked) => {
        const event = (tracked as { data?: { op: string; where?: unknown } }).data ?? tracked;
        const { op, where } = event as { op: string; where?: unknown };
        if (op === "synced") {
          snapshotDone.current = true;
          setSynced(true);
          return;
        }
        if (op === "reset" || (snapshotDone.current && latest.current.concerns(where))) {
          clearTimeout(pending.current);
          pending.current = setTimeout(() => void latest.current.refresh(), COALESCE_MS);
        }
      },
    }),
  );
  if (subscription.status === "error" || subscription.status === "connecting")
    return synced ? "reconnecting" : "connecting";
  return synced ? "live" : "connecting";
}

export function LiveBadge({ status }: { status: LiveStatus }) {
  const label = { connecting: "connecting…", live: "live", reconnecting: "reconnecting…" }[status];
  return (
    <span className={`live live-${status}`} role="status" title="Changes by workers appear without a reload">
      {label}
    </span>
  );
}
