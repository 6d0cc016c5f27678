// The signed-in console: a header (who, scope, token expiry, navigation) and the view the URL names.
import { useQuery } from "@tanstack/react-query";
import { useEffect, useRef } from "react";
import { Clock } from "./components/Clock.tsx";
import { ErrorNote } from "./components/ErrorNote.tsx";
import { href, type Route, useRoute } from "./lib/route.ts";
import { SessionContext } from "./lib/session.ts";
import { errorReason, useTRPC } from "./lib/trpc.ts";
import { AssetsView } from "./views/AssetsView.tsx";
import { AssetView } from "./views/AssetView.tsx";
import { CleanupView } from "./views/CleanupView.tsx";
import { DagRunsView } from "./views/DagRunsView.tsx";
import { DagRunView } from "./views/DagRunView.tsx";
import { OverviewView } from "./views/OverviewView.tsx";
import { TaskStateView } from "./views/TaskStateView.tsx";

const NAV: { label: string; route: Route; matches: Route["view"][] }[] = [
  { label: "Overview", route: { view: "overview" }, matches: ["overview"] },
  {
    label: "Dag runs",
    route: { view: "runs", dagId: "", runIdPrefix: "" },
    matches: ["runs", "run", "task"],
  },
  { label: "Assets", route: { view: "assets", search: "", active: "" }, matches: ["assets", "asset"] },
  { label: "Expired state", route: { view: "cleanup" }, matches: ["cleanup"] },
];

export function Shell({ onSignOut }: { onSignOut: (because?: string) => void }) {
  const trpc = useTRPC();
  const session = useQuery(trpc.admin.session.queryOptions(undefined, { staleTime: 60_000 }));
  const route = useRoute();
  const expired = session.error && errorReason(session.error).code === "UNAUTHORIZED";

  useEffect(() => {
    if (expired) onSignOut(`Signed out: ${errorReason(session.error).message}`);
  }, [expired, onSignOut, session.error]);

  // The token's expiry is known: sign out when it passes rather than fail every call after it.
  const expiresAt = session.data?.expiresAt;
  useEffect(() => {
    if (!expiresAt) return;
    const left = Date.parse(expiresAt) - Date.now();
    const timer = setTimeout(() => onSignOut("Signed out: the token has expired."), Math.max(0, left));
    return () => clearTimeout(timer);
  }, [expiresAt, onSignOut]);

  if (session.isPending) return <p className="loading">Checking the token…</p>;
  if (session.error) {
    return (
      <main>
        <ErrorNote error={session.error} />
        <button type="button" onClick={() => onSignOut()}>
          Sign out
        </button>
      </main>
    );
  }
  const who = session.data;
  return (
    <SessionContext.Provider value={who}>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <a className="brand" href={href({ view: "overview" })}>
          Cairn
        </a>
        <nav aria-label="Views">
          <ul>
            {NAV.map((item) => (
              <li key={item.label}>
                <a
                  href={href(item.route)}
                  aria-current={item.matches.includes(route.view) ? "page" : undefined}
                >
                  {item.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <section className="who" aria-label="Signed in">
          <span>
            <span className="sub">{who.sub}</span>{" "}
            <span className={`scope scope-${who.scope}`}>{who.scope}</span>
          </span>
          <span className="expiry">
            {who.expiresAt ? (
              <>
                token expires <Clock at={who.expiresAt} />
              </>
            ) : (
              "token never expires"
            )}
          </span>
          <button type="button" className="quiet" onClick={() => onSignOut()}>
            Sign out
          </button>
        </section>
      </header>
      <Main route={route} />
    </SessionContext.Provider>
  );
}

function Main({ route }: { route: Route }) {
  const heading = useRef<HTMLElement>(null);
  const key = href(route).split("?")[0];
  // After moving to another view, keyboard and screen reader users start at its content.
  useEffect(() => {
    if (document.activeElement !== document.body && document.activeElement?.closest("main")) return;
    heading.current?.focus();
  }, [key]);
  return (
    <main id="main" ref={heading} tabIndex={-1}>
      <View route={route} />
    </main>
  );
}

function View({ route }: { route: Route }) {
  switch (route.view) {
    case "overview":
      return <OverviewView />;
    case "runs":
      return <DagRunsView route={route} />;
    case "run":
      return <DagRunView route={route} />;
    case "task":
      return <TaskStateView route={route} />;
    case "assets":
      return <AssetsView route={route} />;
    case "asset":
      return <AssetView route={route} />;
    case "cleanup":
      return <CleanupView />;
    case "not-found":
      return (
        <>
          <h1>Not found</h1>
          <p>
            Nothing lives at <code>{route.hash}</code>.{" "}
            <a href={href({ view: "overview" })}>Go to the overview</a>.
          </p>
        </>
      );
  }
}
