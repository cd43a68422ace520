/** The Slack streaming suite, unchanged, on the AWS shape (Lambda handlers over the emulators). */
process.env.ENCLAVE_TEST_SHAPE = "aws";
await import("./slack-streaming.test.js");
