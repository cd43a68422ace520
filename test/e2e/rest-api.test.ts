import { createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer } from "../support/server.js";
import { describeRestApi, REST_SUITE_SETTINGS } from "./rest-api.suite.js";

/** The REST suite against the embedded server, over HTTP. */
describeRestApi("embedded server", async () => {
  const server = await startTestServer(REST_SUITE_SETTINGS);
  return {
    baseUrl: server.url,
    fetch,
    signingKey: () => createPrivateKey(readFileSync(join(server.dataDir, "keys", "id-token-signing-key.pem"))),
    servesJwks: true,
    stop: () => server.stop(),
  };
});
