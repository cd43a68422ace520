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

/** Called with each piece of the reply's text as the model produces it, in order. */
export type TextSink = (text: string) => void;

export interface ChatModel {
  /** Shown in the audit log. */
  readonly modelId: string;
  /** False for the extractive answerer: the answer then carries a note that no language model is configured. */
  readonly generative: boolean;
  /**
   * False when the model (or the server it runs on) cannot call tools; the agent loop then retrieves
   * first and quotes the passages in the prompt. May turn false once the server refused a tool request.
   */
  readonly toolUse: boolean;
  converse(request: ChatRequest): Promise<ChatResponse>;
  /**
   * The same reply as `converse`, its text handed to `onText` as it is produced; resolves with the whole
   * reply (text and tool calls) once the model has finished.
   */
  converseStream(request: ChatRequest, onText: TextSink): Promise<ChatResponse>;
}
