/** The Slack events suite, unchanged, on the AWS shape (Lambda handlers over the emulators). */
process.env.ENCLAVE_TEST_SHAPE = "aws";
await import("./slack-events.test.js");
