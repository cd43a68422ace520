import type { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";

/**
 * Secrets on Lambda live in Secrets Manager; the functions get their ARNs and resolve them into the
 * plain setting names before configuration is loaded. A plain value, when set, wins (local runs and
 * tests). Each secret is a plain string, or JSON with a `value` field. Names as infra/ passes them.
 */
export const SECRET_ARN_SETTINGS = {
  SLACK_SIGNING_SECRET: "SLACK_SIGNING_SECRET_ARN",
  SLACK_CLIENT_SECRET: "SLACK_CLIENT_SECRET_ARN",
  SLACK_STATE_SECRET: "SLACK_STATE_SECRET_ARN",
  PINECONE_API_KEY: "PINECONE_API_KEY_SECRET_ARN",
  LINK_TOKEN_SECRET: "LINK_TOKEN_SECRET_ARN",
  COGNITO_SIGNUP_CLIENT_SECRET: "COGNITO_SIGNUP_CLIENT_SECRET_ARN",
  ENCRYPTION_KEY: "ENCRYPTION_KEY_SECRET_ARN",
} as const;

export type SecretFetcher = (arn: string) => Promise<string>;

export async function resolveSecretEnv(
  env: Record<string, string | undefined>,
  fetchSecret: SecretFetcher = secretsManagerFetcher(env.AWS_REGION),
): Promise<Record<string, string | undefined>> {
  const out = { ...env };
  await Promise.all(
    Object.entries(SECRET_ARN_SETTINGS).map(async ([name, arnSetting]) => {
      const arn = env[arnSetting];
      if (!arn || env[name]) return;
      const raw = await fetchSecret(arn);
      out[name] = secretValue(raw);
    }),
  );
  return out;
}

function secretValue(raw: string): string {
  const trimmed = raw.trim();
  if (trimmed.startsWith("{")) {
    try {
      const parsed = JSON.parse(trimmed) as { value?: unknown };
      if (typeof parsed.value === "string") return parsed.value;
    } catch {
      // Not JSON after all: the whole string is the secret.
    }
  }
  return trimmed;
}

/** Reads secrets with @aws-sdk/client-secrets-manager, imported on first use (local runs never load it). */
function secretsManagerFetcher(region: string | undefined): SecretFetcher {
  let sdk:
    | Promise<{
        client: SecretsManagerClient;
        GetSecretValueCommand: typeof GetSecretValueCommand;
      }>
    | undefined;
  return async (arn) => {
    sdk ??= import("@aws-sdk/client-secrets-manager").then(({ SecretsManagerClient, GetSecretValueCommand }) => ({
      client: new SecretsManagerClient({ ...(region ? { region } : {}) }),
      GetSecretValueCommand,
    }));
    const { client, GetSecretValueCommand } = await sdk;
    const result = await client.send(new GetSecretValueCommand({ SecretId: arn }));
    if (typeof result.SecretString !== "string") throw new Error(`secret ${arn} has no string value`);
    return result.SecretString;
  };
}
