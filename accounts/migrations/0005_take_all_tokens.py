# Throttles: several buckets in one statement (lib/throttles.take_all).

from django.db import migrations

FORWARD = """
-- lib/throttles.take_all: a token from each bucket or from none, in one statement: the first
-- refusal gives back what was taken before it. Returns the refusing bucket's position (from
-- 1; NULL when every bucket gave a token) with its verdict, or the last bucket's verdict.
CREATE FUNCTION take_all_tokens(p_keys text[], p_capacities double precision[],
                                p_per_seconds double precision[])
  RETURNS TABLE (refused_by integer, allowed boolean, tokens_left double precision,
                 retry_after double precision, first_refusal boolean)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  v_verdict record;
BEGIN
  FOR i IN 1 .. coalesce(cardinality(p_keys), 0) LOOP
    SELECT * INTO v_verdict FROM take_tokens(p_keys[i], p_capacities[i], p_per_seconds[i], 1);
    IF NOT v_verdict.allowed THEN
      FOR j IN 1 .. i - 1 LOOP
        PERFORM take_tokens(p_keys[j], p_capacities[j], p_per_seconds[j], -1);
      END LOOP;
      RETURN QUERY SELECT i, false, v_verdict.tokens_left, v_verdict.retry_after,
                          v_verdict.first_refusal;
      RETURN;
    END IF;
  END LOOP;
  RETURN QUERY SELECT NULL::integer, true, coalesce(v_verdict.tokens_left, 0),
                      0::double precision, false;
END $$;
ALTER FUNCTION take_all_tokens(text[], double precision[], double precision[])
  OWNER TO maraum_staff;
-- decision 6: the roles that take tokens today, and nobody else.
REVOKE EXECUTE ON FUNCTION take_all_tokens(text[], double precision[], double precision[])
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION take_all_tokens(text[], double precision[], double precision[])
  TO maraum_learner, maraum_staff, maraum_auth;
"""

REVERSE = """
DROP FUNCTION IF EXISTS take_all_tokens(text[], double precision[], double precision[]);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_levels"),
    ]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
