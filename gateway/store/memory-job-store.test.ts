// The in-memory store passes the conformance suite every JobStore passes (all but the steps that
// reopen it: it keeps nothing), so unit tests that stand on it stand on a faithful store.
import { describeJobStore } from './job-store-conformance.js';
import { MemoryJobStore } from './memory-job-store.js';

describeJobStore('MemoryJobStore', async () => {
  const store = new MemoryJobStore();
  await store.open();
  return { store, cleanup: () => store.close() };
});
