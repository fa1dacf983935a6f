/*
 * inverted_hnsw_client.c - the client side of test/bench/inverted_hnsw.sh:
 * times each query from the client, round trip included, over one libpq
 * connection.
 *
 *   inverted_hnsw_client CONNINFO PLANFILE
 *
 * Each PLANFILE line is "LABEL<TAB>PASSES<TAB>SETUP<TAB>QUERY<TAB>QUERYFILE":
 * SETUP (may hold several statements) runs once, then every query of
 * QUERYFILE ("KIND<TAB>ID<TAB>VECTOR" lines) goes through QUERY, whose $1 is
 * the vector as text, PASSES times; the first pass only warms the caches.
 * For each query of the later passes one line goes to stdout:
 * "LABEL<TAB>PASS<TAB>KIND<TAB>ID<TAB>MS<TAB>IDS<TAB>DISTANCES", IDS and
 * DISTANCES (%.17g) comma-separated in the order returned.  QUERY must
 * return (id, distance).  Each query is sent with PQexecParams (parsed and
 * planned each time, as an application without prepared statements would).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libpq-fe.h"

#define MAXLINE (1 << 20)

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void
die(PGconn *conn, const char *what)
{
	fprintf(stderr, "inverted_hnsw_client: %s: %s", what, conn ? PQerrorMessage(conn) : "\n");
	exit(1);
}

/* split s at tabs into at most n fields, in place; returns the count */
static int
split(char *s, char **f, int n)
{
	int			k = 0;

	s[strcspn(s, "\n")] = '\0';
	while (k < n)
	{
		f[k++] = s;
		s = strchr(s, '\t');
		if (s == NULL)
			break;
		*s++ = '\0';
	}
	return k;
}

static void
run_plan(PGconn *conn, char **p)
{
	const char *label = p[0];
	int			passes = atoi(p[1]);
	PGresult   *res;
	FILE	   *qf;
	static char line[MAXLINE];

	res = PQexec(conn, p[2]);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		die(conn, p[2]);
	PQclear(res);

	for (int pass = 1; pass <= passes; pass++)
	{
		if ((qf = fopen(p[4], "r")) == NULL)
		{
			perror(p[4]);
			exit(1);
		}
		while (fgets(line, sizeof(line), qf))
		{
			char	   *q[3];
			const char *vals[1];
			double		t0,
						ms;

			if (split(line, q, 3) != 3)
				continue;
			vals[0] = q[2];
			t0 = now_ms();
			res = PQexecParams(conn, p[3], 1, NULL, vals, NULL, NULL, 0);
			ms = now_ms() - t0;
			if (PQresultStatus(res) != PGRES_TUPLES_OK)
				die(conn, p[3]);
			if (pass > 1)
			{
				printf("%s\t%d\t%s\t%s\t%.3f\t", label, pass - 1, q[0], q[1], ms);
				for (int i = 0; i < PQntuples(res); i++)
					printf("%s%s", i ? "," : "", PQgetvalue(res, i, 0));
				printf("\t");
				for (int i = 0; i < PQntuples(res); i++)
					printf("%s%.17g", i ? "," : "", atof(PQgetvalue(res, i, 1)));
				printf("\n");
			}
			PQclear(res);
		}
		fclose(qf);
	}
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	PGconn	   *conn;
	FILE	   *pf;
	static char line[MAXLINE];

	if (argc != 3)
	{
		fprintf(stderr, "usage: %s CONNINFO PLANFILE\n", argv[0]);
		return 2;
	}
	conn = PQconnectdb(argv[1]);
	if (PQstatus(conn) != CONNECTION_OK)
		die(conn, "connect");
	if ((pf = fopen(argv[2], "r")) == NULL)
	{
		perror(argv[2]);
		return 1;
	}
	while (fgets(line, sizeof(line), pf))
	{
		char	   *p[5];

		if (split(line, p, 5) == 5)
			run_plan(conn, p);
	}
	fclose(pf);
	PQfinish(conn);
	return 0;
}
