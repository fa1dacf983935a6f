-- svec text and binary input/output, type modifier, and every bad input.

-- Text round trips: any input order, zeros dropped, shortest float output.
SELECT '{1:0.5,3:2}/10'::svec;
SELECT '{3:2,1:0.5}/10'::svec;
SELECT '{}/10'::svec;
SELECT '{1:0,2:0}/2'::svec;
SELECT ' { 1 : 1.5 , 2 : -2 } / 5 '::svec;
SELECT '{1:0.1,2:3.4028235e38,3:-1.17549435e-38,4:1e-45}/4'::svec;
SELECT '{1000000000:1}/1000000000'::svec;
SELECT '{1:1e0,2:+2,3:.5,4:-0.25}/4'::svec;
-- shortest round-trip output survives text -> svec -> text -> svec
SELECT v::text::svec = v AS round_trip
FROM (SELECT '{1:0.1,2:0.2,3:0.30000001,4:3.1415927}/4'::svec AS v) s;

-- Syntax errors: 22P02
SELECT ''::svec;
SELECT '{1:1}'::svec;
SELECT '{1:1}/'::svec;
SELECT '{1:1}/10 x'::svec;
SELECT '{1:1}/10/10'::svec;
SELECT '{1:1,}/10'::svec;
SELECT '{1 1}/10'::svec;
SELECT '{1:}/10'::svec;
SELECT '{:1}/10'::svec;
SELECT '{1:1'::svec;
SELECT '[1,2,3]'::svec;
SELECT '{a:1}/10'::svec;
SELECT '{1:1}/ten'::svec;
SELECT '{1:1,1:2}/10'::svec;
SELECT '{1:1,2:2,3:3,4:4,5:5,6:6,7:7,8:8,9:9,10:10,11:11,12:12,13:13,14:14}/x'::svec;

-- Values out of range: 22003
SELECT '{0:1}/10'::svec;
SELECT '{11:1}/10'::svec;
SELECT '{-1:1}/10'::svec;
SELECT '{1:1}/0'::svec;
SELECT '{1:1}/-5'::svec;
SELECT '{1:1}/1000000001'::svec;
SELECT '{1:1}/99999999999999999999999'::svec;
SELECT '{1:NaN}/10'::svec;
SELECT '{1:nan}/10'::svec;
SELECT '{1:Infinity}/10'::svec;
SELECT '{1:-inf}/10'::svec;
SELECT '{1:1e39}/10'::svec;
SELECT '{1:1e-50}/10'::svec;

-- More non-zeros than the type allows: 54000
SELECT ('{' || string_agg(i || ':1', ',') || '}/2000000')::svec
FROM generate_series(1, 1000001) i;
-- exactly at the limit is fine
SELECT nnz(('{' || string_agg(i || ':1', ',') || '}/2000000')::svec)
FROM generate_series(1, 1000000) i;

-- SQLSTATEs, checked explicitly
DO $$
DECLARE
	inputs text[] := ARRAY['{1:1}', '{1:1}/10 x', '{1:1,1:2}/10', '{0:1}/10', '{1:1}/0', '{1:NaN}/10', '{1:inf}/10'];
	s text;
BEGIN
	FOREACH s IN ARRAY inputs LOOP
		BEGIN
			PERFORM s::svec;
			RAISE NOTICE '% accepted', s;
		EXCEPTION WHEN OTHERS THEN
			RAISE NOTICE '% -> %', s, SQLSTATE;
		END;
	END LOOP;
END $$;

-- Type modifier
CREATE TABLE svec_typmod (v svec(3));
INSERT INTO svec_typmod VALUES ('{1:1}/3');
INSERT INTO svec_typmod VALUES ('{1:1}/4');
INSERT INTO svec_typmod VALUES ('{1:1}/4'::svec);
\d svec_typmod
SELECT '{1:1}/3'::svec(3);
SELECT '{1:1}/3'::svec(4);
SELECT '{}/3'::svec(0);
SELECT '{}/3'::svec(1000000001);
SELECT '{}/3'::svec(3, 4);
SELECT '{}/3'::svec(a);
DROP TABLE svec_typmod;

-- Binary send/receive, through COPY BINARY.
CREATE TABLE svec_bin (id int, v svec);
INSERT INTO svec_bin VALUES (1, '{1:0.5,3:2}/10'), (2, '{}/1'), (3, NULL),
	(4, '{1:1.5,100000:-3.25e-7}/1000000000');
COPY svec_bin TO '/tmp/sparseclip_svec_bin.copy' WITH (FORMAT binary);
CREATE TABLE svec_bin2 (LIKE svec_bin);
COPY svec_bin2 FROM '/tmp/sparseclip_svec_bin.copy' WITH (FORMAT binary);
SELECT a.id, a.v, a.v IS NOT DISTINCT FROM b.v AS same
FROM svec_bin a JOIN svec_bin2 b USING (id) ORDER BY id;
-- a typmod column applies the same check on receive
CREATE TABLE svec_bin3 (id int, v svec(10));
COPY svec_bin3 FROM '/tmp/sparseclip_svec_bin.copy' WITH (FORMAT binary);
SELECT svec_send('{1:0.5,3:2}/10');
-- Corrupt binary input is refused with the same rules as text: each
-- payload is wrapped in a binary COPY file and loaded.
CREATE TEMP TABLE svec_recv_target (v svec);
CREATE FUNCTION pg_temp.copy_recv(payload bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	file bytea := '\x5047434f50590aff0d0a00'::bytea || int4send(0) || int4send(0)
		|| int2send(1::int2) || int4send(length(payload)) || payload || int2send(-1::int2);
	lo oid := lo_from_bytea(0, file);
	result text;
BEGIN
	PERFORM lo_export(lo, '/tmp/sparseclip_svec_recv.copy');
	PERFORM lo_unlink(lo);
	BEGIN
		COPY svec_recv_target FROM '/tmp/sparseclip_svec_recv.copy' WITH (FORMAT binary);
		SELECT v::text INTO result FROM svec_recv_target;
		TRUNCATE svec_recv_target;
		RETURN 'accepted ' || result;
	EXCEPTION WHEN OTHERS THEN
		RETURN SQLSTATE || ': ' || SQLERRM;
	END;
END $$;
-- well-formed: dim 10, nnz 2, indices 0 and 2
SELECT pg_temp.copy_recv(int4send(10) || int4send(2) || int4send(0) || int4send(0) || int4send(2) || float4send(0.5::real) || float4send(2::real));
-- dims out of range
SELECT pg_temp.copy_recv(int4send(0) || int4send(0) || int4send(0));
SELECT pg_temp.copy_recv(int4send(-3) || int4send(0) || int4send(0));
-- negative nnz, nnz over the limit, nnz over dims
SELECT pg_temp.copy_recv(int4send(10) || int4send(-1) || int4send(0));
SELECT pg_temp.copy_recv(int4send(10) || int4send(1000001) || int4send(0));
SELECT pg_temp.copy_recv(int4send(2) || int4send(3) || int4send(0));
-- reserved word not zero
SELECT pg_temp.copy_recv(int4send(10) || int4send(0) || int4send(7));
-- index out of range, unsorted, duplicate
SELECT pg_temp.copy_recv(int4send(10) || int4send(1) || int4send(0) || int4send(10) || float4send(1::real));
SELECT pg_temp.copy_recv(int4send(10) || int4send(1) || int4send(0) || int4send(-1) || float4send(1::real));
SELECT pg_temp.copy_recv(int4send(10) || int4send(2) || int4send(0) || int4send(5) || int4send(2) || float4send(1::real) || float4send(1::real));
SELECT pg_temp.copy_recv(int4send(10) || int4send(2) || int4send(0) || int4send(2) || int4send(2) || float4send(1::real) || float4send(1::real));
-- NaN, infinity, zero weight
SELECT pg_temp.copy_recv(int4send(10) || int4send(1) || int4send(0) || int4send(1) || float4send('NaN'::real));
SELECT pg_temp.copy_recv(int4send(10) || int4send(1) || int4send(0) || int4send(1) || float4send('-Infinity'::real));
SELECT pg_temp.copy_recv(int4send(10) || int4send(1) || int4send(0) || int4send(1) || float4send(0::real));
-- truncated payload, and trailing bytes
SELECT pg_temp.copy_recv(int4send(10) || int4send(2) || int4send(0) || int4send(1));
SELECT pg_temp.copy_recv(int4send(10) || int4send(0) || int4send(0) || int4send(99));
DROP TABLE svec_bin, svec_bin2, svec_bin3;
