/**
 * Takes one token from a rate-limit bucket shared by every replica: one statement refills and
 * takes, so replicas need no lock of their own. $1 key, $2 capacity, $3 tokens per second.
 */
export const takeRateTokenSql = `INSERT INTO rate_buckets AS b (key, tokens, updated_at) VALUES ($1, $2 - 1, clock_timestamp())
  ON CONFLICT (key) DO UPDATE SET
    tokens = least($2, b.tokens + extract(epoch FROM clock_timestamp() - b.updated_at) * $3)
             - CASE WHEN least($2, b.tokens + extract(epoch FROM clock_timestamp() - b.updated_at) * $3) >= 1 THEN 1 ELSE 0 END,
    updated_at = clock_timestamp(),
    taken = least($2, b.tokens + extract(epoch FROM clock_timestamp() - b.updated_at) * $3) >= 1
  RETURNING tokens, taken`;
