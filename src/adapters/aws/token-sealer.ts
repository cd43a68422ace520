import type { Config } from "../../config/config.js";
import type { TokenCipher } from "../shared/token-cipher.js";
import { clientConfig } from "./client-config.js";

/** Seals a secret (a Slack bot token) for storage, bound to `context` (its row): it cannot be moved. */
export interface TokenSealer {
  seal(plain: string, context: string): Promise<string>;
  open(sealed: string, context: string): Promise<string>;
}

/** AES-256-GCM with ENCRYPTION_KEY (format `v1.`). */
export const cipherSealer = (cipher: TokenCipher): TokenSealer => ({
  seal: async (plain, context) => cipher.encrypt(plain, context),
  open: async (sealed, context) => cipher.decrypt(sealed, context),
});

/** The slice of @aws-sdk/client-kms this uses. */
export interface KmsApi {
  client: { send(command: unknown): Promise<{ CiphertextBlob?: Uint8Array; Plaintext?: Uint8Array }> };
  EncryptCommand: new (input: {
    KeyId: string;
    Plaintext: Uint8Array;
    EncryptionContext: Record<string, string>;
  }) => unknown;
  DecryptCommand: new (input: {
    KeyId: string;
    CiphertextBlob: Uint8Array;
    EncryptionContext: Record<string, string>;
  }) => unknown;
}

const PREFIX = "kms1.";

/**
 * Tokens encrypted by AWS KMS under KMS_KEY_ID (format `kms1.<ciphertext blob>`), with the row as KMS
 * encryption context, so a ciphertext copied to another team's row does not decrypt and every use is in
 * CloudTrail. Values sealed earlier with ENCRYPTION_KEY (`v1.`) still open through `legacy`.
 */
export class KmsTokenSealer implements TokenSealer {
  constructor(
    private readonly kms: KmsApi,
    private readonly keyId: string,
    private readonly legacy?: TokenSealer,
  ) {}

  private context(context: string): Record<string, string> {
    return { purpose: "enclave-secret", binding: context };
  }

  async seal(plain: string, context: string): Promise<string> {
    const result = await this.kms.client.send(
      new this.kms.EncryptCommand({
        KeyId: this.keyId,
        Plaintext: new TextEncoder().encode(plain),
        EncryptionContext: this.context(context),
      }),
    );
    if (!result.CiphertextBlob) throw new Error("KMS returned no ciphertext");
    return `${PREFIX}${Buffer.from(result.CiphertextBlob).toString("base64url")}`;
  }

  async open(sealed: string, context: string): Promise<string> {
    if (!sealed.startsWith(PREFIX)) {
      if (this.legacy) return this.legacy.open(sealed, context);
      throw new Error("value was not sealed with KMS and no ENCRYPTION_KEY is configured to open it");
    }
    const result = await this.kms.client.send(
      new this.kms.DecryptCommand({
        KeyId: this.keyId,
        CiphertextBlob: Buffer.from(sealed.slice(PREFIX.length), "base64url"),
        EncryptionContext: this.context(context),
      }),
    );
    if (!result.Plaintext) throw new Error("KMS returned no plaintext");
    return new TextDecoder().decode(result.Plaintext);
  }
}

/** KMS sealing from configuration. The SDK is imported on first use, so the embedded backend never loads it. */
export async function kmsSealerFromConfig(config: Config, legacy?: TokenSealer): Promise<TokenSealer> {
  const keyId = config.KMS_KEY_ID;
  if (!keyId) throw new Error("KMS_KEY_ID is not set");
  const { KMSClient, EncryptCommand, DecryptCommand } = await import("@aws-sdk/client-kms");
  return new KmsTokenSealer(
    { client: new KMSClient(clientConfig(config, "kms")), EncryptCommand, DecryptCommand },
    keyId,
    legacy,
  );
}
