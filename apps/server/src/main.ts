// `pnpm start`: the server.
import { runServe } from "./serve.ts";

runServe();
