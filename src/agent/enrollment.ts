/**
 * Temporary: test/helpers/test-agent.ts (rewritten on the device-side branch) still imports
 * this path. Delete this file once that import points at src/http/agent/enrollment.js.
 */
export { createEnrollmentToken } from '../http/agent/enrollment.js';
