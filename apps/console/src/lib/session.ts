// Who is signed in, as the server said (admin.session): views read `canEdit` to show edit controls.
import { createContext, useContext } from "react";

export interface Session {
  sub: string;
  scope: "admin" | "viewer" | "execution";
  expiresAt: string | null;
  maxValueBytes: number;
}

export const SessionContext = createContext<Session | undefined>(undefined);

export function useSession(): Session & { canEdit: boolean } {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside a signed-in console");
  return { ...session, canEdit: session.scope === "admin" };
}
