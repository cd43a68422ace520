/**
 * A provider-neutral conversation with tool use, shaped after the Bedrock Converse API. The agent
 * loop that runs tools lives in services/answer-question, never in an adapter.
 */
export interface ToolSpec {
  name: string;
  description: string;
  /** JSON Schema of the tool's input. */
  inputSchema: Record<string, unknown>;
}

export type ContentBlock =
  | { type: "text"; text: string }
  | { type: "tool_use"; id: string; name: string; input: unknown }
  | { type: "tool_result"; toolUseId: string; content: unknown; isError?: boolean };

export interface ChatMessage {
  role: "user" | "assistant";
  content: ContentBlock[];
}

export interface ChatRequest {
  system: string;
  messages: ChatMessage[];
  tools: ToolSpec[];
  maxTokens?: number;
}

export interface ChatResponse {
  message: ChatMessage;
  stopReason: "end_turn" | "tool_use" | "max_tokens" | "other";
}

export interface ChatModel {
  /** Shown in the audit log. */
  readonly modelId: string;
  /** False for the extractive answerer: the reply then says no language model is configured. */
  readonly generative: boolean;
  converse(request: ChatRequest): Promise<ChatResponse>;
}
