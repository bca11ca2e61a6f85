import { assertEquals } from "./testing.ts";
import { OwnFailureLimiter } from "./db.ts";

Deno.test("own failures: a burst per code per window, then counted and reported with the next", () => {
  const limiter = new OwnFailureLimiter(3, 1_000);
  const t0 = 1_000_000;
  const taken = [0, 1, 2, 3, 4].map((i) => limiter.take("AUTH.INVALID_JWT", t0 + i));
  assertEquals(taken, [{ suppressed: 0 }, { suppressed: 0 }, { suppressed: 0 }, null, null]);
  // another code has its own budget
  assertEquals(limiter.take("ENV.KEY_MISSING", t0 + 5), { suppressed: 0 });
  // the next window records again and says how many were held back
  assertEquals(limiter.take("AUTH.INVALID_JWT", t0 + 1_000), { suppressed: 2 });
  assertEquals(limiter.take("AUTH.INVALID_JWT", t0 + 1_001), { suppressed: 0 });
});
