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

interface SecretsManagerModule {
  SecretsManagerClient: new (config: {
    region?: string;
  }) => { send(command: unknown): Promise<{ SecretString?: string }> };
  GetSecretValueCommand: new (input: { SecretId: string }) => unknown;
}

/**
 * Reads secrets with @aws-sdk/client-secrets-manager. The module is loaded by name at run time so the
 * code builds before that package is a dependency; without it, a function configured with secret ARNs
 * fails at cold start with this message rather than running half-configured.
 */
function secretsManagerFetcher(region: string | undefined): SecretFetcher {
  let client:
    | Promise<{ module: SecretsManagerModule; client: InstanceType<SecretsManagerModule["SecretsManagerClient"]> }>
    | undefined;
  return async (arn) => {
    client ??= (async () => {
      const name = "@aws-sdk/client-secrets-manager";
      let module: SecretsManagerModule;
      try {
        module = (await import(name)) as SecretsManagerModule;
      } catch (cause) {
        throw new Error(
          `${name} is needed to read *_SECRET_ARN settings; add it to the dependencies or set the values directly`,
          { cause },
        );
      }
      return { module, client: new module.SecretsManagerClient({ ...(region ? { region } : {}) }) };
    })();
    const { module, client: sm } = await client;
    const result = await sm.send(new module.GetSecretValueCommand({ SecretId: arn }));
    if (typeof result.SecretString !== "string") throw new Error(`secret ${arn} has no string value`);
    return result.SecretString;
  };
}
