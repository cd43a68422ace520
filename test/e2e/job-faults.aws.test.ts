/** The job-queue fault suite on the AWS shape: SQS answers 503 through a fault proxy; the schedule is the worker handler. */
process.env.ENCLAVE_TEST_SHAPE = "aws";
await import("./job-faults.test.js");
