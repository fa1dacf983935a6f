/*
 * scan_helper.c - one helper thread per backend for inverted index scans
 * (sparseclip.inverted_scan_threads = 2): it runs one plain-C function at a
 * time while the backend's own thread goes on with other work.
 *
 * The walk uses it as a pipeline (scan_walk.c): the backend finds the
 * pieces of the next block of ranges in the locked pages, the helper adds
 * the postings of the block before.  The helper touches no PostgreSQL
 * state: no palloc, no ereport, no buffer manager; it only reads the bytes
 * of pages the backend keeps pinned for it and writes the scan's private
 * accumulators.  Every signal is blocked in it, so PostgreSQL's handlers
 * keep running on the backend's thread.  Started on first use, it lives as
 * long as the backend.
 *
 * Handing work over: the backend puts a call in a small ring and bumps
 * `posted`; the helper spins a little, then sleeps on a condition variable;
 * it runs the calls in order and counts each in `done`.  Waiting for it spins a little
 * too, then sleeps (the pipeline's steps take tens of microseconds, a
 * wake-up about as long).
 */
#include "postgres.h"

#include <pthread.h>
#include <signal.h>

#include "scan.h"

/* sparseclip.inverted_scan_threads */
int			inv_scan_threads = 1;

static pthread_t inv_helper_thread;
static bool inv_helper_started = false;
static bool inv_helper_failed = false;
static pthread_mutex_t inv_helper_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t inv_helper_cv = PTHREAD_COND_INITIALIZER;	/* work posted */
static pthread_cond_t inv_helper_done_cv = PTHREAD_COND_INITIALIZER;	/* work done */

/*
 * The hand-over, each word in its own cache line: the helper spins on
 * posted, the backend on done, and neither should make the other's loads
 * (or the backend's other globals) miss.
 */
typedef struct InvHelperWord
{
	uint32		v;
	char		pad[64 - sizeof(uint32)];
} __attribute__((aligned(64))) InvHelperWord;

/* the work: a ring of calls, each written before posted counts it */
typedef struct InvHelperCall
{
	InvHelperFn fn;
	void	   *arg;
} InvHelperCall;

static struct
{
	InvHelperCall ring[INV_HELPER_RING];
	bool		sleeping;		/* the helper, on inv_helper_cv */
	bool		waiting;		/* the backend, on inv_helper_done_cv */
} __attribute__((aligned(64))) inv_helper_task;
static InvHelperWord inv_helper_posted_w;
static InvHelperWord inv_helper_done_w;

#define inv_helper_posted	(inv_helper_posted_w.v)
#define inv_helper_done		(inv_helper_done_w.v)
#define inv_helper_sleeping	(inv_helper_task.sleeping)
#define inv_helper_waiting	(inv_helper_task.waiting)

/*
 * pause iterations either side spins before it sleeps: tens of
 * microseconds, about a step of the pipeline; a busy machine, where the
 * other thread may not be running at all, gets its core back soon
 */
#define INV_HELPER_SPIN	8192

static inline void
inv_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static void *
inv_helper_main(void *unused)
{
	uint32		done = 0;

	for (;;)
	{
		int			spin;

		for (spin = 0; spin < INV_HELPER_SPIN; spin++)
		{
			if (__atomic_load_n(&inv_helper_posted, __ATOMIC_ACQUIRE) != done)
				break;
			inv_cpu_relax();
		}
		if (__atomic_load_n(&inv_helper_posted, __ATOMIC_ACQUIRE) == done)
		{
			pthread_mutex_lock(&inv_helper_mu);
			__atomic_store_n(&inv_helper_sleeping, true, __ATOMIC_SEQ_CST);
			while (__atomic_load_n(&inv_helper_posted, __ATOMIC_SEQ_CST) == done)
				pthread_cond_wait(&inv_helper_cv, &inv_helper_mu);
			__atomic_store_n(&inv_helper_sleeping, false, __ATOMIC_SEQ_CST);
			pthread_mutex_unlock(&inv_helper_mu);
		}
		/* every call posted so far, in order */
		while (__atomic_load_n(&inv_helper_posted, __ATOMIC_ACQUIRE) != done)
		{
			InvHelperCall *c = &inv_helper_task.ring[done % INV_HELPER_RING];

			c->fn(c->arg);
			done++;
			__atomic_store_n(&inv_helper_done, done, __ATOMIC_SEQ_CST);
			if (__atomic_load_n(&inv_helper_waiting, __ATOMIC_SEQ_CST))
			{
				pthread_mutex_lock(&inv_helper_mu);
				pthread_cond_signal(&inv_helper_done_cv);
				pthread_mutex_unlock(&inv_helper_mu);
			}
		}
	}
	return NULL;
}

/*
 * Whether scans should use the helper (the setting asks for it and the
 * thread is running, starting it if need be).  A thread that cannot be
 * started is not retried: the scans run on the backend's thread alone.
 */
bool
inv_helper_available(void)
{
	sigset_t	all,
				old;
	int			rc;

	if (inv_scan_threads < 2 || inv_helper_failed)
		return false;
	if (inv_helper_started)
		return true;
	/* the thread inherits this mask: no PostgreSQL signal handler runs there */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&inv_helper_thread, NULL, inv_helper_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
	{
		inv_helper_failed = true;
		elog(LOG, "sparseclip: could not start the inverted scan helper thread: %s", strerror(rc));
		return false;
	}
	pthread_detach(inv_helper_thread);
	inv_helper_started = true;
	return true;
}

/* Calls posted so far. */
uint32
inv_helper_posted_count(void)
{
	return inv_helper_posted;
}

/* Calls posted that the helper has not finished. */
uint32
inv_helper_pending(void)
{
	return __atomic_load_n(&inv_helper_posted, __ATOMIC_RELAXED) -
		__atomic_load_n(&inv_helper_done, __ATOMIC_ACQUIRE);
}

/*
 * Have the helper run fn(arg) after the calls before it; fewer than
 * INV_HELPER_RING may be pending.
 */
void
inv_helper_run(InvHelperFn fn, void *arg)
{
	uint32		posted = inv_helper_posted;
	InvHelperCall *c = &inv_helper_task.ring[posted % INV_HELPER_RING];

	Assert(inv_helper_started && inv_helper_pending() < INV_HELPER_RING);
	c->fn = fn;
	c->arg = arg;
	__atomic_store_n(&inv_helper_posted, posted + 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&inv_helper_sleeping, __ATOMIC_SEQ_CST))
	{
		pthread_mutex_lock(&inv_helper_mu);
		pthread_cond_signal(&inv_helper_cv);
		pthread_mutex_unlock(&inv_helper_mu);
	}
}

/*
 * Wait until at most n calls are pending (0: the helper is idle).  Returns
 * whether it had to wait (the walk uses this to share the work better).
 */
bool
inv_helper_wait(uint32 n)
{
	uint32		spin;

	if (!inv_helper_started || inv_helper_pending() <= n)
		return false;
	for (spin = 0; spin < INV_HELPER_SPIN && inv_helper_pending() > n; spin++)
		inv_cpu_relax();
	if (inv_helper_pending() > n)
	{
		/* signals are handled meanwhile; their effects wait for the helper */
		pthread_mutex_lock(&inv_helper_mu);
		__atomic_store_n(&inv_helper_waiting, true, __ATOMIC_SEQ_CST);
		while (__atomic_load_n(&inv_helper_posted, __ATOMIC_RELAXED) -
			   __atomic_load_n(&inv_helper_done, __ATOMIC_SEQ_CST) > n)
			pthread_cond_wait(&inv_helper_done_cv, &inv_helper_mu);
		__atomic_store_n(&inv_helper_waiting, false, __ATOMIC_SEQ_CST);
		pthread_mutex_unlock(&inv_helper_mu);
	}
	return true;
}
