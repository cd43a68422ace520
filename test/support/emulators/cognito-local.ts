import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Emulator } from "./dynalite.js";

const require = createRequire(import.meta.url);

export interface CognitoEmulator extends Emulator {
  /** The last code cognito-local "sent" to an address (sign-up confirmation and the like). */
  codeFor(email: string): string | undefined;
  /** cognito-local's fixed signing key (it ships in the package), for forged-token tests. */
  signingKeyPem: string;
  keyId: string;
}

/**
 * cognito-local assembled by hand rather than with its `createDefaultServer`, which writes to `./.cognito`
 * in the working directory and prints codes to the console: here the data lives in a temporary folder,
 * confirmation codes are captured for the tests, and the token issuer is the real loopback URL.
 */
export interface CognitoLocalOptions {
  /** Confirm sign-ups at once, as a deployment with an auto-confirming PreSignUp trigger would. */
  autoConfirm?: boolean;
}

export async function startCognitoLocal(options: CognitoLocalOptions = {}): Promise<CognitoEmulator> {
  // cognito-local still loads the AWS SDK v2 (for Lambda triggers), which prints a notice on load.
  process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE = "1";
  const lib = (path: string) => require(`cognito-local/lib/${path}`);
  const pino = require(require.resolve("pino", { paths: [require.resolve("cognito-local")] }));
  const { createServer } = lib("server/server");
  const { Router } = lib("server/Router");
  const { DefaultConfig } = lib("server/config");
  const { DateClock, TriggersService, MessagesService, LambdaService } = lib("services");
  const { CognitoServiceFactoryImpl } = lib("services/cognitoService");
  const { InMemoryCache } = lib("services/dataStore/cache");
  const { StormDBDataStoreFactory } = lib("services/dataStore/stormDb");
  const { MessageDeliveryService } = lib("services/messageDelivery/messageDelivery");
  const { otp } = lib("services/otp");
  const { JwtTokenGenerator } = lib("services/tokenGenerator");
  const { UserPoolServiceFactoryImpl } = lib("services/userPoolService");
  const { CryptoService } = lib("services/crypto");
  const privateKey = lib("keys/cognitoLocal.private.json") as { pem: string };

  const dataDirectory = mkdtempSync(join(tmpdir(), "enclave-cognito-"));
  const logger = pino({ level: "silent" });
  const ctx = { logger };
  const clock = new DateClock();
  const dataStoreFactory = new StormDBDataStoreFactory(dataDirectory, new InMemoryCache());
  const cognitoServiceFactory = new CognitoServiceFactoryImpl(
    dataDirectory,
    clock,
    dataStoreFactory,
    new UserPoolServiceFactoryImpl(clock, dataStoreFactory),
  );
  const config = { ...DefaultConfig, UserPoolDefaults: { UsernameAttributes: ["email"] } };
  const cognito = await cognitoServiceFactory.create(ctx, config.UserPoolDefaults);
  // No Lambda triggers are configured, so the Lambda client is never called.
  const realTriggers = new TriggersService(clock, cognito, new LambdaService({}, {}), new CryptoService({}));
  const triggers = options.autoConfirm
    ? Object.assign(Object.create(realTriggers), {
        enabled: (name: string) => name === "PreSignUp" || realTriggers.enabled(name),
        preSignUp: async () => ({ autoConfirmUser: true, autoVerifyEmail: true, autoVerifyPhone: false }),
      })
    : realTriggers;
  const codes = new Map<string, string>();
  const sender = {
    sendEmail: async (_ctx: unknown, _user: unknown, destination: string, message: { __code?: string }) => {
      if (message.__code) codes.set(destination.toLowerCase(), message.__code);
    },
    sendSms: async () => {},
  };
  const tokenConfig = { IssuerDomain: "http://127.0.0.1" };
  const server = createServer(
    Router({
      clock,
      cognito,
      config,
      messages: new MessagesService(triggers, new MessageDeliveryService(sender)),
      otp,
      tokenGenerator: new JwtTokenGenerator(clock, triggers, tokenConfig),
      triggers,
    }),
    logger,
    { development: false },
  );
  const http = (await server.start({ hostname: "127.0.0.1", port: 0 })) as import("node:http").Server;
  const { port } = http.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  tokenConfig.IssuerDomain = endpoint;
  return {
    endpoint,
    codeFor: (email) => codes.get(email.toLowerCase()),
    signingKeyPem: privateKey.pem,
    keyId: "CognitoLocal",
    stop: async () => {
      await new Promise<void>((resolve) => {
        http.closeAllConnections?.();
        http.close(() => resolve());
      });
      rmSync(dataDirectory, { recursive: true, force: true });
    },
  };
}
